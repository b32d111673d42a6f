/**
 * The mapping from PostgreSQL types to TypeScript types (SPEC's type table), with the
 * int8/date modes and the config's overrides by type and by `table.column`.
 */
import type { DateMode, Int8Mode, TypeOverride } from "../config/config.js";
import { type PgType, runtimeModule, type TsImport, type TsTypeRef } from "../model.js";

export { runtimeModule };

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

const plain = (text: string, imports: readonly TsImport[] = []): TsTypeRef => ({
  text,
  imports,
  overridden: false,
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
): TsTypeRef {
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
      return plain(type.labels.map((l) => JSON.stringify(l)).join(" | ") || "string");
    case "domain":
      return tsTypeFor(type.base, role, options);
    case "array": {
      const el = tsTypeFor(type.element, role, options);
      const needsParens = /[|&]/.test(el.text);
      return {
        text: needsParens ? `(${el.text})[]` : `${el.text}[]`,
        imports: el.imports,
        overridden: el.overridden,
      };
    }
    case "other":
      return plain("unknown");
    case "base":
      return baseType(type.typname, role, options);
  }
}

function baseType(typname: string, role: "param" | "result", options: TsTypeOptions): TsTypeRef {
  if (numberTypes.has(typname)) return plain("number");
  if (typname === "int8") return plain(options.int8);
  if (stringTypes.has(typname)) return plain("string");
  if (typname === "bool") return plain("boolean");
  if (typname === "timestamptz" || typname === "timestamp") return plain("Date");
  if (typname === "date") return plain(options.date === "string" ? "string" : "Date");
  if (typname === "bytea") return plain(role === "param" ? "Uint8Array" : "Buffer");
  if (typname === "json" || typname === "jsonb") {
    return plain("JsonValue", [{ name: "JsonValue", from: runtimeModule }]);
  }
  return plain("unknown");
}
