/**
 * The shape of `svcgen.yaml` as zod schemas: what each key accepts and the message when it
 * does not. Loading and resolving is in load-config.ts, positions and messages in
 * config-reporter.ts.
 *
 * The file, with every key and its default:
 *
 * ```yaml
 * version: 1              # optional; must be 1
 * schema: migrations      # required; a folder or a list of files and folders. A folder gives its
 *                         #   direct .sql files sorted by name (not recursive, like sqlc); the
 *                         #   list order is the order migrations are applied in
 * queries: queries        # required; a folder or a list of files and folders, as schema
 * out: gen                # folder of generated code; default gen
 * database:
 *   url: ${DATABASE_URL}  # default "${DATABASE_URL}"; ${VAR} and ${VAR:-default} are read from
 *                         #   the environment; empty means: start an embedded server
 *   postgres: 15          # major version of the embedded server, 12 to 18; default 15
 *   keepSchema: true      # keep the scratch database (one per migrations hash) between runs
 *                         #   instead of rebuilding it every time; default true
 *   useLiveSchema: false  # analyse the database at url as it is, without a scratch copy
 *                         #   and without applying migrations; default false; needs a url
 * types:                  # type overrides; default none
 *   - pgType: numeric     # match by Postgres type (format_type spelling or typname), or
 *     # column: invoices.total   (table.column or schema.table.column); exactly one of the two
 *     tsType: Decimal     # the TS type for both parameters and results, or give
 *     paramType: ...      #   paramType and resultType separately (each overrides tsType)
 *     resultType: ...
 *     import: { name: Decimal, from: decimal.js }   # or a list; `as: Alias`, `default: true`
 * options:
 *   int8: bigint          # bigint | string | number; default bigint
 *   date: Date            # Date | string; default Date
 *   preparedStatements: true   # named prepared statements; default true
 *   unannotated: warning  # a query-file statement without `-- name:`: skipped with a
 *                         #   warning (as sqlc skips it), or `error`
 * cache: .svcgen-cache    # analysis cache folder; default .svcgen-cache
 * proto:                  # optional; absent means the project has no protos, empty the defaults
 *   roots: [proto]        # buf module roots, a folder or a list; default [proto]; must exist
 *   handlers: src         # where handler skeletons are created; default src
 *                         # `proto: folder` or `proto: [a, b]` is short for `proto: { roots: ... }`
 * errors:
 *   domain: my-project    # the ErrorInfo domain of gen/errors.ts; default the `name` of the
 *                         #   package.json beside this file, else the folder's name
 * events:
 *   transport: postgres   # postgres | nats: the default transport of the generated entries'
 *                         #   relay and consumers; default postgres. At run time
 *                         #   SVCGEN_EVENTS_TRANSPORT overrides it, and NATS_URL alone selects
 *                         #   nats when this key is absent
 * templates: templates    # optional; a folder whose files override the built-in text
 *                         #   templates by name (`svcgen templates eject` copies them there)
 * deploy:                 # optional; absent: no deployment files. Every key has a default
 *   dir: deploy           # where the deployment files go; default deploy
 *   files: [dockerfile, fly, compose, alerts, dashboards, workflow]   # default: all of them
 *   region: ams           # Fly.io primary_region; default ams
 *   strategy: bluegreen   # rolling | immediate | canary | bluegreen; default bluegreen
 *   vm: { size: shared-cpu-1x, memory: 512mb }   # default shared-cpu-1x, 512mb
 *   registry: ""          # image registry (registry.fly.io/<app>, ghcr.io/acme); default
 *                         #   none: Fly builds the Dockerfile
 *   secrets: [DATABASE_URL]   # environment variables set with `fly secrets set`; default
 *                         #   [DATABASE_URL]; DATABASE_URL is always included
 *   shutdownGraceMs: 10000    # SHUTDOWN_GRACE_MS; kill_timeout is this plus 5 s
 *   node: 20              # Node.js major of the images; default 20
 *   apps:                 # Fly.io app name per service (file stem of gen/grpc/<stem>.ts);
 *     user-service: acme-user   #   default: the stem
 * ```
 */
import * as z from "zod";

// --- the schema -------------------------------------------------------------------------

/** A JavaScript identifier. */
export const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A non-empty string, with the message naming `what`. */
export const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, `expected ${what}`);

/** A path or a non-empty list of paths. */
export const pathList = (what: string) =>
  z.union([nonEmpty(`a ${what}`), z.array(nonEmpty(`a ${what}`)).min(1, `expected a ${what}`)], {
    error: `expected a ${what} or a list of them`,
  });

/** Any path list, to re-check one key on its own while resolving. */
export const anyPathList = pathList("path");

/** One import of a type override. */
export const importSchema = z.strictObject(
  {
    name: z.string({ error: "expected an identifier" }).regex(identifier, "expected an identifier"),
    from: nonEmpty("a module specifier"),
    as: z
      .string({ error: "expected an identifier" })
      .regex(identifier, "expected an identifier")
      .optional(),
    default: z.boolean({ error: "expected true or false" }).optional(),
  },
  { error: "expected a mapping with name and from" },
);

/** One type override (`types:` entry). */
export const overrideSchema = z.strictObject(
  {
    pgType: nonEmpty("a Postgres type name").optional(),
    column: z
      .string({ error: "expected table.column or schema.table.column" })
      .regex(/^[^.\s]+(\.[^.\s]+){1,2}$/, "expected table.column or schema.table.column")
      .optional(),
    tsType: nonEmpty("a TypeScript type").optional(),
    paramType: nonEmpty("a TypeScript type").optional(),
    resultType: nonEmpty("a TypeScript type").optional(),
    import: z
      .union([importSchema, z.array(importSchema)], {
        error: "expected an import mapping or a list of them",
      })
      .optional(),
  },
  { error: "expected a mapping" },
);

/** The deployment files `deploy.files` can name. */
export const deployFileKinds = [
  "dockerfile",
  "fly",
  "compose",
  "alerts",
  "dashboards",
  "workflow",
] as const;

/** `deploy:`: which deployment files are generated and what goes into them. */
export const deploySchema = z.strictObject(
  {
    dir: nonEmpty("a folder").optional(),
    files: z
      .array(
        z.enum(deployFileKinds, {
          error: `expected one of ${deployFileKinds.join(", ")}`,
        }),
        { error: "expected a list of file kinds" },
      )
      .optional(),
    region: z
      .string({ error: "expected a Fly.io region code" })
      .regex(/^[a-z]{3}$/, "expected a Fly.io region code (three letters, like ams)")
      .optional(),
    strategy: z
      .enum(["rolling", "immediate", "canary", "bluegreen"], {
        error: "expected rolling, immediate, canary or bluegreen",
      })
      .optional(),
    vm: z
      .strictObject(
        {
          size: nonEmpty("a Fly.io VM size (shared-cpu-1x, performance-2x, ...)").optional(),
          memory: z
            .string({ error: "expected a memory size like 512mb or 1gb" })
            .regex(/^[1-9][0-9]*(mb|gb)$/, "expected a memory size like 512mb or 1gb")
            .optional(),
        },
        { error: "expected a mapping with size and memory" },
      )
      .optional(),
    registry: z.string({ error: "expected an image registry" }).optional(),
    secrets: z
      .array(
        z
          .string({ error: "expected an environment variable name" })
          .regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name (A-Z, 0-9, _)"),
        { error: "expected a list of environment variable names" },
      )
      .optional(),
    shutdownGraceMs: z
      .int({ error: "expected milliseconds (a whole number)" })
      .min(0, "expected milliseconds (a whole number >= 0)")
      .optional(),
    node: z
      .int({ error: "expected a Node.js major version" })
      .min(20, "expected a Node.js major version of at least 20")
      .optional(),
    apps: z
      .record(
        z.string(),
        z
          .string({ error: "expected a Fly.io app name" })
          .regex(
            /^[a-z0-9][a-z0-9-]*$/,
            "expected a Fly.io app name (lower-case letters, digits and dashes)",
          ),
        { error: "expected a mapping of service to app name" },
      )
      .optional(),
  },
  { error: "expected a mapping" },
);

/** The whole file. */
export const configSchema = z.strictObject(
  {
    version: z.literal(1, { error: "expected 1" }).optional(),
    schema: pathList("migration file or folder"),
    queries: pathList("query file or folder"),
    out: nonEmpty("a folder").optional(),
    database: z
      .strictObject(
        {
          url: z.string({ error: "expected a URL" }).optional(),
          postgres: z
            .int({ error: "expected an integer between 12 and 18" })
            .min(12, "expected an integer between 12 and 18")
            .max(18, "expected an integer between 12 and 18")
            .optional(),
          useLiveSchema: z.boolean({ error: "expected true or false" }).optional(),
          keepSchema: z.boolean({ error: "expected true or false" }).optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
    types: z.array(overrideSchema, { error: "expected a list of overrides" }).nullish(),
    options: z
      .strictObject(
        {
          int8: z
            .enum(["bigint", "string", "number"], { error: "expected bigint, string or number" })
            .optional(),
          date: z.enum(["Date", "string"], { error: "expected Date or string" }).optional(),
          preparedStatements: z.boolean({ error: "expected true or false" }).optional(),
          unannotated: z
            .enum(["warning", "error"], { error: "expected warning or error" })
            .optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
    cache: nonEmpty("a folder").optional(),
    templates: nonEmpty("a folder").optional(),
    errors: z
      .strictObject(
        { domain: nonEmpty("an ErrorInfo domain (a project or service name)").optional() },
        { error: "expected a mapping" },
      )
      .nullish(),
    deploy: deploySchema.nullish(),
    events: z
      .strictObject(
        {
          transport: z
            .enum(["postgres", "nats"], { error: "expected postgres or nats" })
            .optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
    // One flat union (not pathList inside it), so the reporter can name the one branch that
    // fits what was written: an unknown key of the mapping, an empty folder name.
    proto: z
      .union(
        [
          nonEmpty("a folder"),
          z.array(nonEmpty("a folder")).min(1, "expected a folder"),
          z.strictObject(
            {
              roots: pathList("folder").optional(),
              handlers: nonEmpty("a folder").optional(),
            },
            { error: "expected a mapping" },
          ),
        ],
        { error: "expected a folder, a list of folders, or a mapping with roots and handlers" },
      )
      .nullish(),
  },
  { error: "expected a mapping of configuration keys" },
);

/** The file as validated, before defaults and resolution. */
export type RawConfig = z.infer<typeof configSchema>;
/** A validated `types:` entry. */
export type RawOverride = z.infer<typeof overrideSchema>;
/** A validated import of a type override. */
export type RawImport = z.infer<typeof importSchema>;

/**
 * The keys each mapping accepts, by normalised path (`[]` for any list index); used for
 * "did you mean" hints on unknown keys.
 */
export const knownKeys: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(configSchema.shape),
  database: ["url", "postgres", "useLiveSchema", "keepSchema"],
  "types[]": Object.keys(overrideSchema.shape),
  "types[].import": Object.keys(importSchema.shape),
  "types[].import[]": Object.keys(importSchema.shape),
  options: ["int8", "date", "preparedStatements", "unannotated"],
  proto: ["roots", "handlers"],
  errors: ["domain"],
  events: ["transport"],
  deploy: Object.keys(deploySchema.shape),
  "deploy.vm": ["size", "memory"],
};
