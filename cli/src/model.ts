/**
 * The Model: the one intermediate representation between analysis and emission. Plain,
 * serialisable data; emitters see only this, never a syntax tree or a database connection.
 * `svcgen analyze --json` prints a projection of it ({@link toPublicModel}), which is public API.
 */

import { renderTsType } from "./ts-type-renderer.js";

/** The sqlc annotations svcgen understands. */
export type QueryCommand =
  | "one"
  | "many"
  | "exec"
  | "execrows"
  | "execresult"
  | "copyfrom"
  | "batchexec"
  | "batchone"
  | "batchmany";

/** Commands that generate code in this release; the others are diagnosed as unsupported. */
export const supportedCommands: readonly QueryCommand[] = [
  "one",
  "many",
  "exec",
  "execrows",
  "execresult",
];

/**
 * A PostgreSQL type as far as code generation needs it, resolved from the catalog.
 * `name` is `format_type(oid, NULL)` with the search path pinned (the `pgType` of the public
 * model); `typname` is `pg_type.typname` (`int4`, `_text`, `timestamptz`), which picks the
 * run-time codec.
 */
export type PgType =
  | { readonly kind: "base"; readonly oid: number; readonly name: string; readonly typname: string }
  | {
      readonly kind: "enum";
      readonly oid: number;
      readonly name: string;
      readonly typname: string;
      readonly labels: readonly string[];
    }
  | {
      readonly kind: "domain";
      readonly oid: number;
      readonly name: string;
      readonly typname: string;
      /** The domain's NOT NULL (or that of a domain it is built on). */
      readonly notNull: boolean;
      readonly base: PgType;
    }
  | {
      readonly kind: "array";
      readonly oid: number;
      readonly name: string;
      readonly typname: string;
      readonly element: PgType;
    }
  | {
      /** Composite, range, pseudo and other types svcgen passes through as text. */
      readonly kind: "other";
      readonly oid: number;
      readonly name: string;
      readonly typname: string;
    };

/** The package generated code imports the runtime from. */
export const runtimeModule = "@svcgen/runtime";

/** An import a TypeScript type needs, from a type override in the config. */
export interface TsImport {
  /** The symbol to import. */
  readonly name: string;
  /** Module specifier, as written in the import statement. */
  readonly from: string;
  /** Import under another local name (`import { Decimal as D }`). */
  readonly as?: string;
  /** Whether it is a default import. */
  readonly isDefault?: boolean;
}

/**
 * The TypeScript type of a value, as structured data. Code decides on the structure (the int8
 * mode, whether a value is an enum); text is made in one place only, `renderTsType`.
 */
export type TsType =
  | {
      readonly kind: "primitive";
      readonly name: "number" | "string" | "boolean" | "unknown";
    }
  /** An int8 value in the configured representation. */
  | { readonly kind: "bigint"; readonly mode: "bigint" | "string" | "number" }
  /** A timestamp (always `Date`) or a date (`Date` or `string`, from the config). */
  | { readonly kind: "date"; readonly mode: "Date" | "string" }
  /** bytea: `Uint8Array` for parameters, `Buffer` for results. */
  | { readonly kind: "bytes"; readonly name: "Uint8Array" | "Buffer" }
  /** json/jsonb: the runtime's `JsonValue`. */
  | { readonly kind: "json" }
  /** A Postgres enum: the union of its labels, or its named type in generated code. */
  | { readonly kind: "enum"; readonly pgName: string; readonly labels: readonly string[] }
  | { readonly kind: "array"; readonly element: TsType }
  /**
   * A config override: the user's type text, kept as written, with its imports. The run-time
   * codec is then the default one for the Postgres type, and the value is only re-typed (an
   * override changes the static type, e.g. a branded string, not the wire decoding).
   */
  | { readonly kind: "override"; readonly text: string; readonly imports: readonly TsImport[] };

/** One parameter of a query, in `$n` order. */
export interface ParamModel {
  /** Name in SQL terms (snake_case as written): `email`, `dollar_1`. */
  readonly name: string;
  /** camelCase key in the generated `Params` type. */
  readonly tsName: string;
  /** The 1-based `$n` position in the SQL sent to the server. */
  readonly position: number;
  readonly pgType: PgType;
  readonly tsType: TsType;
  readonly nullable: boolean;
  /** Set for `sqlc.slice(x)`: the parameter is an array bound with `= ANY($n::T[])`. */
  readonly slice?: true;
}

/** One result column of a query. */
export interface ColumnModel {
  /** The column name as PostgreSQL reports it, with a `!`/`?` override suffix removed. */
  readonly name: string;
  /** camelCase key in the generated `Row` type, unique within the row. */
  readonly tsName: string;
  readonly pgType: PgType;
  readonly tsType: TsType;
  readonly nullable: boolean;
  /** The table column it is a plain reference to, when it is one. */
  readonly source?: { readonly table: string; readonly column: string };
  /** Set for `sqlc.embed(t)`: columns of one embedded table share a group name. */
  readonly embed?: string;
}

/** One annotated query. */
export interface QueryModel {
  /** PascalCase name from the annotation. */
  readonly name: string;
  /** Query file, relative to the project folder, forward slashes. */
  readonly file: string;
  /** 1-based line of the `-- name:` annotation. */
  readonly line: number;
  readonly command: QueryCommand;
  /** The SQL as sent to the server: named parameters rewritten to `$n`, comments kept, no trailing `;`. */
  readonly sql: string;
  readonly params: readonly ParamModel[];
  readonly columns: readonly ColumnModel[];
  /** Doc comment lines written above the annotation, if any. */
  readonly doc: readonly string[];
}

/** Everything analysis produced, ready to emit. */
export interface Model {
  readonly queries: readonly QueryModel[];
}

/** One entry of `params` or `columns` in the public model. */
export interface PublicField {
  readonly name: string;
  readonly pgType: string;
  readonly tsType: string;
  readonly nullable: boolean;
}

/** The public shape of one query printed by `svcgen analyze --json`. */
export interface PublicQuery {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly command: QueryCommand;
  readonly sql: string;
  readonly params: readonly PublicField[];
  readonly columns: readonly PublicField[];
}

/** Projects the Model onto the public contract of `svcgen analyze --json`, keys in contract order. */
export function toPublicModel(model: Model): { readonly queries: readonly PublicQuery[] } {
  return {
    queries: model.queries.map((q) => ({
      name: q.name,
      file: q.file,
      line: q.line,
      command: q.command,
      sql: q.sql,
      params: q.params.map((p) => ({
        name: p.name,
        pgType: p.pgType.name,
        tsType: renderTsType(p.tsType),
        nullable: p.nullable,
      })),
      columns: q.columns.map((c) => ({
        name: c.name,
        pgType: c.pgType.name,
        tsType: renderTsType(c.tsType),
        nullable: c.nullable,
      })),
    })),
  };
}
