/**
 * The mapping from PostgreSQL types to TypeScript types (SPEC's type table), with the
 * int8/date modes and the config's overrides by type and by `table.column`.
 */
import type { DateMode, Int8Mode, TypeOverride } from "../config/config.js";
import type { PgType, TsType } from "../model.js";

/** Options of the mapping. */
export interface TsTypeOptions {
  readonly int8: Int8Mode;
  readonly date: DateMode;
  readonly overrides: readonly TypeOverride[];
}

const numberTypes = new Set(["int2", "int4", "float4", "float8", "oid"]);
/** Postgres types (by `typname`) that are strings in TypeScript. */
export const stringTypes: ReadonlySet<string> = new Set([
  "numeric",
  "money",
  "text",
  "varchar",
  "bpchar",
  "char",
  "name",
  "uuid",
  "citext",
  "inet",
  "cidr",
  "macaddr",
  "macaddr8",
  "time",
  "timetz",
  "interval",
  "bit",
  "varbit",
  "xml",
  "tsvector",
  "tsquery",
]);

const primitive = (name: Extract<TsType, { kind: "primitive" }>["name"]): TsType => ({
  kind: "primitive",
  name,
});

/**
 * The TypeScript type of a value of `type`. `role` picks the parameter or result side
 * (they differ for bytea, and overrides may differ); `column` is the table column a result
 * column is a plain reference to, or the column a parameter is assigned to, for overrides
 * by column.
 */
export function tsTypeFor(
  type: PgType,
  role: "param" | "result",
  options: TsTypeOptions,
  column?: { readonly table: string; readonly column: string },
): TsType {
  if (column !== undefined) {
    const o = options.overrides.find(
      (x) =>
        x.match.kind === "column" &&
        x.match.table === column.table &&
        x.match.column === column.column,
    );
    if (o !== undefined) return role === "param" ? o.paramType : o.resultType;
  }
  const byType = options.overrides.find(
    (x) =>
      x.match.kind === "pgType" &&
      (x.match.pgType === type.name || x.match.pgType === type.typname),
  );
  if (byType !== undefined) return role === "param" ? byType.paramType : byType.resultType;

  switch (type.kind) {
    case "enum":
      return { kind: "enum", pgName: type.name, labels: type.labels };
    case "domain":
      return tsTypeFor(type.base, role, options);
    case "array":
      return { kind: "array", element: tsTypeFor(type.element, role, options) };
    case "other":
      return primitive("unknown");
    case "base":
      return baseType(type.typname, role, options);
  }
}

function baseType(typname: string, role: "param" | "result", options: TsTypeOptions): TsType {
  if (numberTypes.has(typname)) return primitive("number");
  if (typname === "int8") return { kind: "bigint", mode: options.int8 };
  if (stringTypes.has(typname)) return primitive("string");
  if (typname === "bool") return primitive("boolean");
  if (typname === "timestamptz" || typname === "timestamp") return { kind: "date", mode: "Date" };
  if (typname === "date") return { kind: "date", mode: options.date };
  if (typname === "bytea")
    return { kind: "bytes", name: role === "param" ? "Uint8Array" : "Buffer" };
  if (typname === "json" || typname === "jsonb") return { kind: "json" };
  return primitive("unknown");
}
