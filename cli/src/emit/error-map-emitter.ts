/**
 * Emits `gen/errors.ts`: the per-constraint error map (the runtime's `ErrorMapTable`) from the
 * Model's constraints. For every primary key, unique, foreign key, check, exclusion and NOT
 * NULL constraint: its gRPC code, a stable `ErrorInfo` reason (the constraint's name in
 * UPPER_SNAKE_CASE), the request fields it concerns and a message safe to show a client
 * (words of our own: never the constraint's definition, SQL or values). Fields are named as
 * the proto fields of RPCs bound to queries that write or compare that column, else the
 * column's camelCase name.
 */
import type { GeneratedFile } from "../inputs.js";
import type { ConstraintKind, ConstraintModel, Model } from "../model.js";
import { camelCase } from "../names.js";
import { createFileBuilder } from "./generated-file.js";

/** Options of {@link emitErrorMap}. */
export interface ErrorMapEmitOptions {
  /** The output folder, project-relative (`gen`); the file is `<out>/errors.ts`. */
  readonly out: string;
  /** The `ErrorInfo` domain of every reason (the project's name unless configured). */
  readonly domain: string;
}

/** One rule of the table, as data (the emitted object literal, and what tests compare). */
export interface ErrorRule {
  /** The key the runtime looks it up by: the constraint name, `table.column` for NOT NULL. */
  readonly key: string;
  readonly kind: ConstraintKind;
  readonly code: "ALREADY_EXISTS" | "FAILED_PRECONDITION" | "INVALID_ARGUMENT";
  readonly reason: string;
  readonly fields: readonly string[];
  readonly message: string;
  readonly description: string;
}

/** The gRPC code of each kind: SPEC's SQLSTATE defaults, exclusion as a conflict like unique. */
const codes: Readonly<Record<ConstraintKind, ErrorRule["code"]>> = {
  primary_key: "ALREADY_EXISTS",
  unique: "ALREADY_EXISTS",
  exclusion: "ALREADY_EXISTS",
  foreign_key: "FAILED_PRECONDITION",
  check: "INVALID_ARGUMENT",
  not_null: "INVALID_ARGUMENT",
};

/** A constraint name as an `ErrorInfo` reason: `users_email_key` -> `USERS_EMAIL_KEY`. */
export function reasonOf(name: string): string {
  const r = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
  return r === "" ? "CONSTRAINT" : r;
}

/** `user_profiles` -> `user profile`: a table name as a noun in messages (naive singular). */
function entityOf(table: string): string {
  const words = table.replace(/[^A-Za-z0-9]+/g, " ").trim();
  const singular = /(ss|us|is)$/i.test(words)
    ? words
    : /ies$/i.test(words)
      ? words.replace(/ies$/i, "y")
      : /(sses|xes|ches|shes)$/i.test(words)
        ? words.replace(/es$/i, "")
        : words.replace(/s$/i, "");
  return (singular === "" ? "record" : singular).toLowerCase();
}

function article(noun: string): string {
  // "a user", "a unique", "an order", "an umbrella": by sound, roughly.
  return /^([aeio]|u(?!s|ni|ti|ri))/i.test(noun) ? "An" : "A";
}

function list(fields: readonly string[]): string {
  if (fields.length <= 1) return fields[0] ?? "";
  return `${fields.slice(0, -1).join(", ")} and ${fields[fields.length - 1]}`;
}

/**
 * The proto field name that feeds each table column (`users.email` -> `email`), from the
 * parameters of bound RPCs, first binding in service and method order.
 */
function boundFieldNames(model: Model): Map<string, string> {
  const queries = new Map(model.queries.map((q) => [q.name, q]));
  const out = new Map<string, string>();
  for (const service of model.services) {
    for (const method of service.methods) {
      const b = method.binding;
      const q = b === undefined ? undefined : queries.get(b.query);
      if (b === undefined || q === undefined) continue;
      for (const p of b.params) {
        const column = q.params[p.param]?.column;
        if (p.source.kind !== "field" || column === undefined) continue;
        const key = `${column.table}.${column.column}`;
        if (!out.has(key)) out.set(key, p.source.field.name);
      }
    }
  }
  return out;
}

/** The rule of one constraint. `fieldOf` names a column of its table as the client knows it. */
function ruleOf(c: ConstraintModel, fieldOf: (column: string) => string): ErrorRule {
  const fields = c.columns.map(fieldOf);
  const entity = entityOf(c.table);
  const named = list(fields);
  const base = { kind: c.kind, code: codes[c.kind], reason: reasonOf(c.name), fields };
  switch (c.kind) {
    case "primary_key":
    case "unique":
      return {
        ...base,
        key: c.name,
        message:
          fields.length === 0
            ? `${article(entity)} ${entity} like this already exists`
            : `${article(entity)} ${entity} with this ${named} already exists`,
        description: "must be unique",
      };
    case "exclusion":
      return {
        ...base,
        key: c.name,
        message: `${article(entity)} conflicting ${entity} already exists`,
        description: `conflicts with an existing ${entity}`,
      };
    case "foreign_key": {
      const target = entityOf(c.references?.table ?? "record");
      return {
        ...base,
        key: c.name,
        message: `The ${target} does not exist, or ${article(entity).toLowerCase()} ${entity} still refers to it`,
        description: `must refer to an existing ${target}`,
      };
    }
    case "check":
      return {
        ...base,
        key: c.name,
        message:
          fields.length === 0
            ? `The ${entity} is not valid`
            : `The ${named} of the ${entity} ${fields.length === 1 ? "is" : "are"} not valid`,
        description: "is not valid",
      };
    case "not_null":
      return {
        ...base,
        key: `${c.table}.${c.columns[0] ?? ""}`,
        reason: reasonOf(c.name),
        message: `A value for ${named} is required`,
        description: "is required",
      };
  }
}

/**
 * The rules of the Model's constraints, in the Model's order (schema, table, kind, name).
 * The runtime finds a rule by constraint name (NOT NULL by `table.column`), without the
 * schema: when two tables share a constraint name (or two schemas a table), the first keeps
 * its fields and message and the key is not repeated.
 */
export function errorRules(model: Model): ErrorRule[] {
  const fieldNames = boundFieldNames(model);
  const rules: ErrorRule[] = [];
  const seen = new Set<string>();
  for (const c of model.constraints) {
    const rule = ruleOf(c, (column) => fieldNames.get(`${c.table}.${column}`) ?? camelCase(column));
    if (seen.has(rule.key)) continue;
    seen.add(rule.key);
    rules.push(rule);
  }
  return rules;
}

const identifierRe = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Emits `<out>/errors.ts`. */
export function emitErrorMap(model: Model, options: ErrorMapEmitOptions): GeneratedFile {
  const prefix = options.out === "" || options.out === "." ? "" : `${options.out}/`;
  const f = createFileBuilder(`${prefix}errors.ts`);
  f.declare("errorMap");
  const table = f.runtime("ErrorMapTable");
  const rules = errorRules(model);
  f.print();
  f.jsDoc([
    "The per-constraint error map of the schema the migrations build: how a violation of each",
    "constraint reaches the client (status code, message, `google.rpc.ErrorInfo` reason and",
    "domain, a `google.rpc.BadRequest` violation per field). Keyed by constraint name; NOT NULL,",
    "which PostgreSQL reports without a name, by `table.column`. Database errors it does not",
    "name get the runtime's SQLSTATE defaults. The generated entries in `server/` pass it to",
    "`startServer`.",
  ]);
  f.print`export const errorMap: ${table} = {`;
  f.print`  domain: ${JSON.stringify(options.domain)},`;
  if (rules.length === 0) f.print("  constraints: {},");
  else {
    f.print("  constraints: {");
    for (const r of rules) {
      const key = identifierRe.test(r.key) ? r.key : JSON.stringify(r.key);
      f.print`    ${key}: {`;
      f.print`      kind: ${JSON.stringify(r.kind)},`;
      f.print`      code: ${JSON.stringify(r.code)},`;
      f.print`      reason: ${JSON.stringify(r.reason)},`;
      f.print`      fields: [${r.fields.map((x) => JSON.stringify(x)).join(", ")}],`;
      f.print`      message: ${JSON.stringify(r.message)},`;
      f.print`      description: ${JSON.stringify(r.description)},`;
      f.print("    },");
    }
    f.print("  },");
  }
  f.print("};");
  return f.finish();
}
