/**
 * The resolved configuration: what `svcgen.yaml` says after validation, defaults applied and
 * environment variables substituted. Loading and validation live in `load-config.ts`.
 */
import type { TsType } from "../model.js";

/** How an int8 (bigint, bigserial) value is represented in TypeScript. Default `bigint`. */
export type Int8Mode = "bigint" | "string" | "number";

/** How a `date` value is represented in TypeScript. Default `Date` (UTC midnight). */
export type DateMode = "Date" | "string";

/** Which values a type override applies to. */
export type OverrideMatch =
  | { readonly kind: "pgType"; readonly pgType: string }
  | {
      readonly kind: "column";
      /** Schema name when the override says `schema.table.column`; any schema otherwise. */
      readonly schema?: string;
      readonly table: string;
      readonly column: string;
    };

/**
 * A type override from `types:` in the config. By Postgres type (`pgType: numeric`, spelled as
 * `format_type` does, or the `typname`) or by `table.column`; separate parameter and result
 * types, each with its imports. A column override wins over a type override.
 */
export interface TypeOverride {
  readonly match: OverrideMatch;
  readonly paramType: Extract<TsType, { kind: "override" }>;
  readonly resultType: Extract<TsType, { kind: "override" }>;
}

/** Database settings. */
export interface DatabaseConfig {
  /** Server URL; undefined when neither `database.url` nor `DATABASE_URL` is set (embedded server). */
  readonly url: string | undefined;
  /** Major version of the embedded server. Default 15. */
  readonly postgres: number;
  /**
   * Analyse the database at `url` as it is, without applying migrations into a scratch
   * database. Default false.
   */
  readonly useLiveSchema: boolean;
  /**
   * Keep the scratch database built from the migrations on the server between runs (named
   * `svcgen_schema_<hash of the migrations>`, marked complete once every migration applied),
   * so a run whose migrations did not change skips rebuilding the schema. Older kept
   * databases of the same project are dropped. Default true; no effect on an embedded server.
   */
  readonly keepSchema: boolean;
}

/** Proto settings (`proto:` in the config); absent when the project has no protos. */
export interface ProtoConfig {
  /** Folders that are buf module roots (import paths), absolute. */
  readonly roots: readonly string[];
  /** Folder where handler skeletons are created once and then owned by the user. Default `src`. */
  readonly handlersDir: string;
}

/** One file of the `templates:` folder that replaces the built-in template of the same name. */
export interface TemplateOverride {
  readonly name: string;
  /** Absolute path. */
  readonly path: string;
}

/** Template overrides (`templates:` in the config). */
export interface TemplatesConfig {
  /** The folder, absolute; it may not exist yet (`svcgen templates eject` creates it). */
  readonly dir: string;
  /** The overrides found in it, sorted by name; every name is a built-in template's. */
  readonly overrides: readonly TemplateOverride[];
}

/** A deployment file kind of `deploy.files`. */
export type DeployFileKind =
  | "dockerfile"
  | "fly"
  | "compose"
  | "alerts"
  | "dashboards"
  | "workflow";

/** A Fly.io app name given for one service in `deploy.apps`, with where it was written. */
export interface DeployAppName {
  /** The service's file stem (`user-service` for `gen/grpc/user-service.ts`). */
  readonly service: string;
  readonly app: string;
  /** Position of the key in the config file, for a diagnostic when no service has that stem. */
  readonly line: number;
  readonly column: number;
}

/** Deployment settings (`deploy:` in the config); absent when the key is. */
export interface DeployConfig {
  /** Folder of the deployment files, absolute. Default `deploy`. */
  readonly dir: string;
  /** Which files are generated. Default all, in {@link DeployFileKind} order. */
  readonly files: readonly DeployFileKind[];
  /** Fly.io primary region. Default `ams`. */
  readonly region: string;
  /** Fly.io `[deploy] strategy`. Default `bluegreen` (which needs the health checks). */
  readonly strategy: "rolling" | "immediate" | "canary" | "bluegreen";
  /** Fly.io VM size and memory. Default `shared-cpu-1x`, `512mb`. */
  readonly vm: { readonly size: string; readonly memory: string };
  /** Image registry; empty: Fly builds the Dockerfile. Default empty. */
  readonly registry: string;
  /** Secret names (never values), sorted; always includes DATABASE_URL. */
  readonly secrets: readonly string[];
  /** `SHUTDOWN_GRACE_MS` of the services. Default 10000 (the runtime's default). */
  readonly shutdownGraceMs: number;
  /** Node.js major of the images. Default 20. */
  readonly node: number;
  /** App names by service stem, in file order. */
  readonly apps: readonly DeployAppName[];
}

/** The whole resolved configuration. All paths are absolute. */
export interface ResolvedConfig {
  /** Absolute path of the config file. */
  readonly configPath: string;
  /** The project folder: the folder of the config file. Diagnostics name files relative to it. */
  readonly rootDir: string;
  /** Migration files, absolute, in the order they are applied (lexical order within a folder). */
  readonly schemaFiles: readonly string[];
  /** Query files, absolute, sorted. */
  readonly queryFiles: readonly string[];
  /** Folder of generated code. Default `gen`. */
  readonly out: string;
  readonly database: DatabaseConfig;
  readonly types: readonly TypeOverride[];
  readonly int8: Int8Mode;
  readonly date: DateMode;
  /** Whether generated functions use named prepared statements by default. Default true. */
  readonly preparedStatements: boolean;
  /**
   * A statement in a query file without a `-- name:` annotation: skipped with a warning
   * (sqlc skips it silently) or an error. Absent: `warning`.
   */
  readonly unannotated?: "warning" | "error";
  /** Folder for the analysis cache. Default `.svcgen-cache` under the project folder. */
  readonly cacheDir: string;
  readonly proto: ProtoConfig | undefined;
  /**
   * The `google.rpc.ErrorInfo` domain of `gen/errors.ts` (`errors.domain`). Default: the
   * `name` of the package.json beside the config, else the project folder's name.
   */
  readonly errorDomain?: string;
  /**
   * `events.transport`: the transport generated entries use unless the environment says
   * otherwise; absent: the runtime's choice (NATS when `NATS_URL` is set, else PostgreSQL).
   */
  readonly eventsTransport?: "postgres" | "nats";
  /** Template overrides; absent when the config has no `templates:` key. */
  readonly templates?: TemplatesConfig;
  /** Deployment files; absent when the config has no `deploy:` key. */
  readonly deploy?: DeployConfig;
}
