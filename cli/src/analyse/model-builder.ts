/**
 * Assembles the Model from what analysis found: names every enum a query uses, sorts the
 * constraints, and freezes the whole, so every consumer (emitters, the manifest, the plugin)
 * sees the same plain data.
 */
import type {
  ConstraintModel,
  EnumModel,
  Model,
  PgType,
  QueryModel,
  ServiceModel,
} from "../model.js";
import { pascalCase } from "../names.js";

/** The parts of a Model; enums are derived from the queries. */
export interface ModelParts {
  readonly queries: readonly QueryModel[];
  readonly services?: readonly ServiceModel[];
  readonly constraints?: readonly ConstraintModel[];
}

/** The frozen Model of `parts`. */
export function buildModel(parts: ModelParts): Model {
  return deepFreeze({
    queries: parts.queries,
    enums: collectEnums(parts.queries),
    services: parts.services ?? [],
    constraints: sortConstraints(parts.constraints ?? []),
  });
}

/** The enum a value's type is, through domains and arrays. */
function enumOf(t: PgType): Extract<PgType, { kind: "enum" }> | undefined {
  switch (t.kind) {
    case "enum":
      return t;
    case "domain":
      return enumOf(t.base);
    case "array":
      return enumOf(t.element);
    default:
      return undefined;
  }
}

/**
 * Every enum used by a parameter or column, sorted by Postgres name and named in PascalCase;
 * clashing names get `2`, `3`, ....
 */
function collectEnums(queries: readonly QueryModel[]): EnumModel[] {
  const found = new Map<string, Extract<PgType, { kind: "enum" }>>();
  for (const q of queries) {
    for (const f of [...q.params, ...q.columns]) {
      const e = enumOf(f.pgType);
      if (e !== undefined && !found.has(e.name)) found.set(e.name, e);
    }
  }
  const out: EnumModel[] = [];
  const usedNames = new Set<string>();
  for (const pgName of [...found.keys()].sort(compare)) {
    const e = found.get(pgName)!;
    const base = pascalCase(pgName.replace(/"/g, "")) || "Enum";
    let name = base;
    for (let i = 2; usedNames.has(name); i++) name = `${base}${i}`;
    usedNames.add(name);
    out.push({ pgName, name, labels: e.labels });
  }
  return out;
}

const kindOrder: Readonly<Record<ConstraintModel["kind"], number>> = {
  primary_key: 0,
  unique: 1,
  foreign_key: 2,
  check: 3,
  exclusion: 4,
  not_null: 5,
};

/** Constraints in a stable order: schema, table, kind, name. */
export function sortConstraints(list: readonly ConstraintModel[]): ConstraintModel[] {
  return [...list].sort(
    (a, b) =>
      compare(a.schema, b.schema) ||
      compare(a.table, b.table) ||
      kindOrder[a.kind] - kindOrder[b.kind] ||
      compare(a.name, b.name),
  );
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
