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
  "copyfrom",
  "batchexec",
  "batchone",
  "batchmany",
];

/** Commands whose generated function returns rows (per call, or per batch item). */
export function commandReturnsRows(command: QueryCommand): boolean {
  return (
    command === "one" || command === "many" || command === "batchone" || command === "batchmany"
  );
}

/**
 * A PostgreSQL type as far as code generation needs it, resolved from the catalog.
 * `name` is `format_type(oid, NULL)` with the search path pinned (the `pgType` of the public
 * model); `typname` is `pg_type.typname` (`int4`, `_text`, `timestamptz`), which picks the
 * run-time codec. `oid` is the type's OID in the analysed database: used during analysis only,
 * and absent from the manifest (OIDs of enums and domains differ between databases).
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
  /**
   * The table column it is assigned to (`INSERT ... VALUES`, `UPDATE ... SET`) or compared
   * with, when the statement says so unambiguously: which request field a constraint
   * violation on that column concerns (`gen/errors.ts`). Table name without schema.
   */
  readonly column?: { readonly table: string; readonly column: string };
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
  /** For `:copyfrom`: the COPY statement that loads the rows the INSERT describes. */
  readonly copyFrom?: CopyFromModel;
  /**
   * Set when the statement only reads (a SELECT that locks nothing, modifies nothing and calls
   * no volatile function; see `analyse/read-only.ts`): the runtime may send it again after a
   * transient failure.
   */
  readonly readOnly?: true;
}

/**
 * How a `:copyfrom` query's `INSERT INTO t (a, b) VALUES ($1, $2)` becomes
 * `COPY t (a, b) FROM STDIN`: the statement, and for each of its columns the `$n` whose
 * parameter supplies it (the row type is the query's parameters).
 */
export interface CopyFromModel {
  /** `COPY "schema"."table" ("a", "b") FROM STDIN`, every name quoted as the server resolved it. */
  readonly sql: string;
  /** The `position` of the parameter for each COPY column, in column order. */
  readonly params: readonly number[];
}

/** A Postgres enum used by a query, with the name of its TypeScript type in `<out>/db/enums.ts`. */
export interface EnumModel {
  /** The enum's `format_type` name (`user_status`, `"Mixed Case"`, `other_schema.kind`). */
  readonly pgName: string;
  /** The exported TypeScript type name, unique in the project (`UserStatus`, `Kind2`). */
  readonly name: string;
  readonly labels: readonly string[];
}

/** The kinds of schema constraints; NOT NULL is a column attribute, listed per column. */
export type ConstraintKind =
  | "primary_key"
  | "unique"
  | "foreign_key"
  | "check"
  | "exclusion"
  | "not_null";

/**
 * A constraint of the schema the migrations build, from the catalog: what a database error
 * names (`constraint`, `table`, `column`) mapped back to columns.
 */
export interface ConstraintModel {
  /** The constraint name; for NOT NULL, `<table>_<column>_not_null` (PostgreSQL 17's naming). */
  readonly name: string;
  readonly kind: ConstraintKind;
  readonly schema: string;
  readonly table: string;
  /** The constrained columns, in key order; empty for a check on no particular column. */
  readonly columns: readonly string[];
  /** For a foreign key: the referenced table and columns. */
  readonly references?: {
    readonly schema: string;
    readonly table: string;
    readonly columns: readonly string[];
  };
}

/** A module generated code imports: a package, or a file under the output folder. */
export type ModuleRef =
  | { readonly kind: "package"; readonly specifier: string }
  /** Path relative to the output folder, with `.js`: `proto/acme/users/v1/users_pb.js`. */
  | { readonly kind: "out"; readonly path: string };

/** A protobuf message as generated code names it. */
export interface MessageRef {
  /** Full proto name: `acme.users.v1.GetUserRequest`. */
  readonly typeName: string;
  /** The protobuf-es type name (nested names joined with `_`): `GetUserRequest`. */
  readonly tsName: string;
  /** The protobuf-es schema constant: `GetUserRequestSchema`. */
  readonly schema: string;
  /** The generated module exporting both. */
  readonly module: ModuleRef;
}

/** A proto field as bound code uses it. */
export interface FieldRef {
  /** Name in the .proto file (`display_name`). */
  readonly name: string;
  /** Property name in protobuf-es (`displayName`). */
  readonly localName: string;
  /** Whether the field can be unset (proto3 `optional`, or a message field). */
  readonly presence: boolean;
}

/** How one value changes between its SQL and proto representations. */
export type Conversion =
  | { readonly kind: "identity" }
  /** int8 row value (bigint, string or number) to a 64-bit proto field. */
  | { readonly kind: "toBigInt" }
  /** A 64-bit proto value (bigint) to an int8 parameter in the configured TS mode. */
  | { readonly kind: "int8Param"; readonly mode: "bigint" | "string" | "number" }
  /** A count (number or bigint) to a 32-bit field. */
  | { readonly kind: "toNumber" }
  | { readonly kind: "timestampOut" }
  | { readonly kind: "timestampIn" }
  | { readonly kind: "structOut" }
  | { readonly kind: "structIn" }
  | { readonly kind: "jsonStringOut" }
  | { readonly kind: "jsonStringIn" }
  | {
      readonly kind: "enumOut" | "enumIn";
      /** Proto enum number and Postgres label, in label order. */
      readonly pairs: readonly (readonly [number, string])[];
      /** The Postgres enum's labels (the TS type of an `enumIn` value). */
      readonly labels: readonly string[];
    }
  /**
   * A proto `string` holding a Postgres enum's label, to a parameter: checked against the
   * labels (INVALID_ARGUMENT otherwise). The other way a label is already a string (identity).
   */
  | { readonly kind: "labelIn"; readonly labels: readonly string[] }
  | { readonly kind: "list"; readonly element: Conversion };

/** Where a query parameter's value comes from. */
export type ParamSource =
  | { readonly kind: "field"; readonly field: FieldRef }
  | { readonly kind: "principal"; readonly key: "uid" | "email" }
  | { readonly kind: "claim"; readonly name: string };

/** One query parameter of a bound RPC. */
export interface ParamBinding {
  /** The parameter's index in the query's `params`. */
  readonly param: number;
  readonly source: ParamSource;
  readonly conversion: Conversion;
  /** The source may be unset but the parameter is NOT NULL: check at run time. */
  readonly required: boolean;
}

/** One response field filled from a column. */
export interface ColumnBinding {
  readonly field: FieldRef;
  /** The column's index in the query's `columns`. */
  readonly column: number;
  readonly conversion: Conversion;
}

/** What a bound RPC does with the query result. */
export type ResultBinding =
  | { readonly kind: "one"; readonly columns: readonly ColumnBinding[] }
  | {
      readonly kind: "manyField";
      readonly field: FieldRef;
      readonly columns: readonly ColumnBinding[];
    }
  | { readonly kind: "stream"; readonly columns: readonly ColumnBinding[] }
  | { readonly kind: "exec" }
  | {
      readonly kind: "execrows";
      readonly field?: FieldRef;
      readonly conversion: Conversion;
    }
  /**
   * A client-streaming RPC bound to a `:copyfrom` query: every request message is one row,
   * copied as they arrive; the response holds the stored count in `field`, or nothing.
   */
  | {
      readonly kind: "copyfrom";
      readonly field?: FieldRef;
      readonly conversion: Conversion;
    };

/** A checked binding of one RPC to one query. */
export interface MethodBinding {
  /** The query's name; it is in the Model's `queries`. */
  readonly query: string;
  readonly params: readonly ParamBinding[];
  readonly result: ResultBinding;
}

/** The svcgen options of one method, with service defaults applied. */
export interface MethodPolicy {
  readonly auth:
    | { readonly kind: "public" }
    | { readonly kind: "authenticated" }
    | { readonly kind: "roles"; readonly roles: readonly string[] };
  readonly timeoutMs: number;
  readonly idempotent: boolean;
  /**
   * The bulkhead group (`group` of the method's or its service's svcgen option); absent: the
   * runtime's default, the service's full name.
   */
  readonly group?: string;
}

/** A top-level field of a producing RPC's request or response, for an event's key or payload. */
export interface EventFieldSource {
  readonly from: "request" | "response";
  readonly field: FieldRef;
}

/** How a producing RPC fills an event's payload. */
export type EventPayload =
  /** The response message, as the RPC returns it. */
  | { readonly kind: "response" }
  /** The request message, as the RPC received it. */
  | { readonly kind: "request" }
  /** A message of its own, field by field from the request and the response. */
  | {
      /** Empty for a hand-written RPC: its handler passes the payload to `emit<Event>`. */
      readonly kind: "fields";
      readonly fields: readonly {
        readonly field: FieldRef;
        readonly source: EventFieldSource;
      }[];
    };

/** An event one RPC emits (`emits` in `(svcgen.v1.method)`), checked. */
export interface EmittedEvent {
  /** `user.signed_up`. */
  readonly topic: string;
  /** The topic in PascalCase, naming the helpers: `UserSignedUp` (`emitUserSignedUp`). */
  readonly name: string;
  /** The payload's message type. */
  readonly message: MessageRef;
  /** Where a bound RPC's ordering key comes from; absent: no key. */
  readonly key?: EventFieldSource;
  /** A hand-written RPC's declared key (its handler passes the value to `emit<Event>`). */
  readonly handKey?: string;
  readonly payload: EventPayload;
}

/** One topic a service consumes (`consumes` in `(svcgen.v1.service)`), checked. */
export interface ConsumedEvent {
  readonly topic: string;
  /** The topic in PascalCase: `UserSignedUp`. */
  readonly name: string;
  /** The payload's message type (the producer's). */
  readonly message: MessageRef;
  /** The handler method in TypeScript: `onUserSignedUp`. */
  readonly handler: string;
}

/** A service's consumer group and what it consumes. */
export interface ConsumerModel {
  /** The group: `consumer_group`, else the service's full name. */
  readonly group: string;
  readonly events: readonly ConsumedEvent[];
}

/** The four RPC kinds. */
export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** One RPC of a service. */
export interface MethodModel {
  /** Name in the .proto file (`GetUser`). */
  readonly name: string;
  /** Method name in TypeScript (`getUser`). */
  readonly localName: string;
  readonly kind: MethodKind;
  readonly input: MessageRef;
  readonly output: MessageRef;
  readonly policy: MethodPolicy;
  /** Set when the RPC is bound to a query and the binding checked out. */
  readonly binding?: MethodBinding;
  /** The events it emits, in declaration order; absent when none. */
  readonly emits?: readonly EmittedEvent[];
}

/** One gRPC service of the project's protos. */
export interface ServiceModel {
  /** Full proto name: `acme.users.v1.UserService`. */
  readonly typeName: string;
  /** `UserService`. */
  readonly name: string;
  /** The .proto file declaring it, as buf names it (`acme/users/v1/users.proto`). */
  readonly protoFile: string;
  /** The generated module exporting the service descriptor (`proto/acme/users/v1/users_pb.js`). */
  readonly module: ModuleRef;
  /** File name stem of its generated and handler files (`user-service`). */
  readonly stem: string;
  readonly methods: readonly MethodModel[];
  /** What the service consumes; absent when nothing. */
  readonly consumer?: ConsumerModel;
}

/**
 * Everything analysis produced, ready to emit: plain, frozen, serialisable data (the manifest
 * in `<out>/` is this, serialised). Emitters see nothing else.
 */
export interface Model {
  readonly queries: readonly QueryModel[];
  /** Every enum a query uses, by `pgName`. */
  readonly enums: readonly EnumModel[];
  /** The project's gRPC services, in proto order; empty without `proto:`. */
  readonly services: readonly ServiceModel[];
  /** The schema's constraints, sorted by schema, table, kind and name. */
  readonly constraints: readonly ConstraintModel[];
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
