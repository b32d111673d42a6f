/**
 * Query drift: the manifest (the public model the committed code was generated from) against
 * the same queries analysed on the live database. Pure: two lists in, diagnostics out.
 */
import type { Diagnostic } from "../diagnostics.js";
import type { PublicField, PublicQuery } from "../model.js";
import { DriftCodes } from "./drift-codes.js";

/** `text NOT NULL`, `integer NULL`: how a field's type is shown in drift messages. */
export function describeField(f: PublicField): string {
  return `${f.pgType} ${f.nullable ? "NULL" : "NOT NULL"}`;
}

/** The string literals of a TS union of labels (`"a" | "b"` -> `["a", "b"]`), in order. */
export function unionLabels(tsType: string): string[] {
  const out: string[] = [];
  for (const m of tsType.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    try {
      out.push(JSON.parse(`"${m[1] ?? ""}"`) as string);
    } catch {
      out.push(m[1] ?? "");
    }
  }
  return out;
}

/**
 * Compares every query present in both lists whose SQL text is unchanged (a changed or
 * missing query is "generated code out of date", reported separately). `manifest` is what the
 * code was generated from, `live` the same queries analysed on the live database; a query that
 * failed to prepare is simply absent from `live`. Diagnostics point at the live query's
 * annotation (file and line of the current query file).
 */
export function compareQueries(
  manifest: readonly PublicQuery[],
  live: readonly PublicQuery[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const liveByName = new Map(live.map((q) => [q.name, q]));
  for (const old of manifest) {
    const now = liveByName.get(old.name);
    if (now === undefined || now.sql !== old.sql || now.command !== old.command) continue;
    const at = (code: string, message: string, hint: string): Diagnostic => ({
      severity: "error",
      code: code as Diagnostic["code"],
      message: `${old.name}: ${message}`,
      file: now.file,
      line: now.line,
      column: 1,
      hint,
    });
    out.push(...compareParams(old.params, now.params, at));
    out.push(...compareColumns(old.columns, now.columns, at));
  }
  return out;
}

type At = (code: string, message: string, hint: string) => Diagnostic;

function compareParams(
  old: readonly PublicField[],
  now: readonly PublicField[],
  at: At,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (old.length !== now.length) {
    out.push(
      at(
        DriftCodes.parameter,
        `the query had ${old.length} parameter${old.length === 1 ? "" : "s"}, database gives ${now.length}`,
        "regenerate",
      ),
    );
    return out;
  }
  for (const [i, o] of old.entries()) {
    const n = now[i];
    if (n === undefined) continue;
    const label = `parameter $${i + 1} (${o.name})`;
    if (o.pgType !== n.pgType || o.nullable !== n.nullable) {
      out.push(
        at(
          DriftCodes.parameter,
          `${label} was ${describeField(o)}, database has ${describeField(n)}`,
          o.pgType !== n.pgType
            ? `regenerate, or change the column back to ${o.pgType}`
            : "regenerate",
        ),
      );
    } else if (o.tsType !== n.tsType && unionLabels(o.tsType).length > 0) {
      out.push(enumDrift(label, o, n, at));
    }
  }
  return out;
}

function enumDrift(label: string, o: PublicField, n: PublicField, at: At): Diagnostic {
  return at(
    DriftCodes.enumLabels,
    `labels of enum ${o.pgType} in ${label} were ${o.tsType}, database has ${n.tsType}`,
    "regenerate to update the union type, or restore the enum's labels",
  );
}

/** A column's identity within a row: its name, numbered when a row repeats a name. */
function keyed(cols: readonly PublicField[]): { key: string; field: PublicField; index: number }[] {
  const seen = new Map<string, number>();
  return cols.map((field, index) => {
    const k = (seen.get(field.name) ?? 0) + 1;
    seen.set(field.name, k);
    return { key: k === 1 ? field.name : `${field.name}#${k}`, field, index };
  });
}

function compareColumns(
  old: readonly PublicField[],
  now: readonly PublicField[],
  at: At,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const oldK = keyed(old);
  const nowK = keyed(now);
  const nowByKey = new Map(nowK.map((c) => [c.key, c]));
  const oldKeys = new Set(oldK.map((c) => c.key));
  const removed = oldK.filter((c) => !nowByKey.has(c.key));
  const added = nowK.filter((c) => !oldKeys.has(c.key));

  // A column that disappeared where one of the same type appeared, in the same order, was
  // most likely renamed (what `SELECT *` sees after ALTER TABLE ... RENAME COLUMN).
  const renamed =
    removed.length > 0 &&
    removed.length === added.length &&
    removed.every((r, i) => {
      const a = added[i];
      return a !== undefined && a.index === r.index && a.field.pgType === r.field.pgType;
    });
  if (renamed) {
    for (const [i, r] of removed.entries()) {
      const a = added[i];
      if (a === undefined) continue;
      out.push(
        at(
          DriftCodes.columnSet,
          `column "${r.field.name}" was renamed to "${a.field.name}" in the database`,
          `regenerate, or rename the column back to ${r.field.name}`,
        ),
      );
    }
  } else {
    for (const r of removed) {
      out.push(
        at(
          DriftCodes.columnSet,
          `column "${r.field.name}" (${describeField(r.field)}) is gone from the database`,
          "regenerate, or restore the column",
        ),
      );
    }
    for (const a of added) {
      out.push(
        at(
          DriftCodes.columnSet,
          `column "${a.field.name}" (${describeField(a.field)}) was added in the database`,
          "regenerate to include it, or list the columns instead of *",
        ),
      );
    }
  }

  const common = oldK.filter((c) => nowByKey.has(c.key));
  for (const o of common) {
    const n = nowByKey.get(o.key);
    if (n === undefined) continue;
    const name = `column "${o.field.name}"`;
    if (o.field.pgType !== n.field.pgType) {
      out.push(
        at(
          DriftCodes.columnType,
          `${name} was ${describeField(o.field)}, database has ${describeField(n.field)}`,
          `regenerate, or change the column back to ${o.field.pgType}`,
        ),
      );
    } else if (o.field.nullable !== n.field.nullable) {
      out.push(
        at(
          DriftCodes.nullability,
          `${name} was ${describeField(o.field)}, database has ${describeField(n.field)}`,
          o.field.nullable
            ? "regenerate (the generated type still allows null), or drop NOT NULL again"
            : "regenerate, or add NOT NULL back",
        ),
      );
    } else if (o.field.tsType !== n.field.tsType && unionLabels(o.field.tsType).length > 0) {
      out.push(enumDrift(name, o.field, n.field, at));
    }
  }

  // Same columns in another order: the row objects are keyed by name, but positional
  // consumers (and the manifest) no longer match.
  if (removed.length === 0 && added.length === 0) {
    const order = nowK.map((c) => c.key).join(",");
    if (order !== oldK.map((c) => c.key).join(",")) {
      out.push(
        at(
          DriftCodes.columnSet,
          `columns were ${oldK.map((c) => c.field.name).join(", ")}, database has ${nowK.map((c) => c.field.name).join(", ")}`,
          "regenerate",
        ),
      );
    }
  }
  return out;
}
