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
import { createFileBuilder, type FileBuilder } from "./generated-file.js";

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
  /**
   * Set when several tables share the key: the rule's `schema.table`, under which it is
   * listed in the table's `tables` (see {@link errorRules}).
   */
  readonly scope?: string;
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
 *
 * PostgreSQL constraint names are unique per table (index-backed ones per schema), not per
 * database, so two tables can each have an `amount_positive` check with different fields. A
 * key (constraint name; `table.column` for NOT NULL) that one constraint alone has is a rule of
 * `constraints`, its reason the name in UPPER_SNAKE_CASE, as it always was. A key several
 * constraints share gets one rule per table, scoped by `schema.table` (the runtime picks it by
 * the error's `schema` and `table`), and never a bare rule that would answer for the wrong
 * table. Its reason names the table too, so each stays distinct within the domain:
 * `REFUNDS_AMOUNT_POSITIVE`, with the schema as well when the tables' names are also the same
 * (`BILLING_PAYMENTS_AMOUNT_POSITIVE`, `BILLING_PAYMENTS_PKEY`); see {@link sharedReason}.
 * Adding a second constraint of a name thus changes the first one's reason: a deliberate trade
 * for never giving a client the reason (or fields) of another table.
 */
export function errorRules(model: Model): ErrorRule[] {
  const fieldNames = boundFieldNames(model);
  const all = model.constraints.map((c) => ({
    c,
    rule: ruleOf(c, (column) => fieldNames.get(`${c.table}.${column}`) ?? camelCase(column)),
  }));
  const byKey = new Map<string, ConstraintModel[]>();
  for (const { c, rule } of all) {
    const group = byKey.get(rule.key);
    if (group === undefined) byKey.set(rule.key, [c]);
    else group.push(c);
  }
  const rules: ErrorRule[] = [];
  const seen = new Set<string>();
  for (const { c, rule } of all) {
    const group = byKey.get(rule.key) ?? [];
    if (group.length < 2) {
      rules.push(rule);
      continue;
    }
    const scope = `${c.schema}.${c.table}`;
    // Two constraints of one name on one table cannot exist; keep the first if they ever do.
    const id = JSON.stringify([scope, rule.key]);
    if (seen.has(id)) continue;
    seen.add(id);
    rules.push({ ...rule, scope, reason: sharedReason(c, group) });
  }
  return rules;
}

/**
 * The reason of a constraint whose key `group` shares: its name, prefixed with its table
 * unless the name already begins with it (`payments_pkey`, NOT NULL's
 * `payments_amount_not_null`), and with its schema when another table of the group has the
 * same name. Should two of the group still read alike, every one is `SCHEMA_TABLE_NAME`.
 */
function sharedReason(c: ConstraintModel, group: readonly ConstraintModel[]): string {
  const short = (m: ConstraintModel): string => {
    const sameTable = group.some((o) => o !== m && o.table === m.table);
    const parts = m.name.startsWith(`${m.table}_`) ? [m.name] : [m.table, m.name];
    return reasonOf((sameTable ? [m.schema, ...parts] : parts).join("_"));
  };
  const reasons = group.map(short);
  return new Set(reasons).size === reasons.length
    ? short(c)
    : reasonOf(`${c.schema}_${c.table}_${c.name}`);
}

const identifierRe = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `key` as an object literal key; `__proto__` computed, so it is a property, not the prototype. */
function propertyKey(key: string): string {
  if (key === "__proto__") return `[${JSON.stringify(key)}]`;
  return identifierRe.test(key) ? key : JSON.stringify(key);
}

/** Prints one rule as an object literal property, indented by `indent`. */
function printRule(f: FileBuilder, r: ErrorRule, indent: string): void {
  f.print(`${indent}${propertyKey(r.key)}: {`);
  f.print(`${indent}  kind: ${JSON.stringify(r.kind)},`);
  f.print(`${indent}  code: ${JSON.stringify(r.code)},`);
  f.print(`${indent}  reason: ${JSON.stringify(r.reason)},`);
  f.print(`${indent}  fields: [${r.fields.map((x) => JSON.stringify(x)).join(", ")}],`);
  f.print(`${indent}  message: ${JSON.stringify(r.message)},`);
  f.print(`${indent}  description: ${JSON.stringify(r.description)},`);
  f.print(`${indent}},`);
}

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
    "which PostgreSQL reports without a name, by `table.column`; a key several tables share,",
    "under `tables` by the violation's `schema.table`. Database errors it does not",
    "name get the runtime's SQLSTATE defaults. The generated entries in `server/` pass it to",
    "`startServer`.",
  ]);
  f.print`export const errorMap: ${table} = {`;
  f.print`  domain: ${JSON.stringify(options.domain)},`;
  const bare = rules.filter((r) => r.scope === undefined);
  if (bare.length === 0) f.print("  constraints: {},");
  else {
    f.print("  constraints: {");
    for (const r of bare) printRule(f, r, "    ");
    f.print("  },");
  }
  const scopes = new Map<string, ErrorRule[]>();
  for (const r of rules) {
    if (r.scope === undefined) continue;
    const list = scopes.get(r.scope);
    if (list === undefined) scopes.set(r.scope, [r]);
    else list.push(r);
  }
  if (scopes.size > 0) {
    f.print("  tables: {");
    for (const [scope, list] of scopes) {
      f.print`    ${propertyKey(scope)}: {`;
      for (const r of list) printRule(f, r, "      ");
      f.print("    },");
    }
    f.print("  },");
  }
  f.print("};");
  return f.finish();
}
