/**
 * The manifest next to the generated code, `<out>/svcgen-manifest.json`: the Model, serialised.
 * It records what the committed code was generated from, so `svcgen check` compares a live
 * database with it and `protoc-gen-svcgen` generates service code from it and buf's
 * descriptors alone, without a database.
 */
import { buildModel } from "./analyse/model-builder.js";
import type { Model } from "./model.js";

/** The manifest's file name, in the output folder. */
export const manifestName = "svcgen-manifest.json";

/** Bumped when the serialised shape changes incompatibly. */
export const manifestVersion = 2;

/**
 * The manifest text of `model`: deterministic (the Model's own order), one entry (query,
 * enum, service, constraint) per line, so a change to one query is a one-line diff and a
 * large project's manifest stays small.
 */
export function serialiseManifest(model: Model): string {
  const list = (items: readonly unknown[], line = entry): string =>
    items.length === 0 ? "[]" : `[\n${items.map((i) => `    ${line(i)}`).join(",\n")}\n  ]`;
  return [
    "{",
    `  "manifestVersion": ${manifestVersion},`,
    `  "queries": ${list(model.queries, queryEntry)},`,
    `  "enums": ${list(model.enums)},`,
    `  "services": ${list(model.services)},`,
    `  "constraints": ${list(model.constraints)}`,
    "}",
    "",
  ].join("\n");
}

function entry(value: unknown): string {
  return JSON.stringify(value, withoutOids);
}

/**
 * Parameters and columns of a query serialised before, by identity: the analysis cache hands
 * out the same arrays run after run, so `watch` re-serialises only what changed.
 */
const fragments = new WeakMap<object, string>();

/** One query's line: `JSON.stringify` of it (keys in its own order), with cached fragments. */
function queryEntry(value: unknown): string {
  const q = value as Readonly<Record<string, unknown>>;
  const parts: string[] = [];
  for (const key of Object.keys(q)) {
    const v = q[key];
    if (v === undefined) continue;
    let json: string;
    if ((key === "params" || key === "columns") && typeof v === "object" && v !== null) {
      json = fragments.get(v) ?? entry(v);
      fragments.set(v, json);
    } else {
      json = entry(v);
    }
    parts.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * Type OIDs belong to the database that was analysed (an enum's differs between two builds of
 * the same schema), so the manifest leaves them out and stays the same for the same inputs.
 */
function withoutOids(key: string, value: unknown): unknown {
  return key === "oid" ? undefined : value;
}

/** The number of queries in a manifest's text, without parsing it (one query per line). */
export function countManifestQueries(text: string): number {
  const start = text.indexOf('\n  "queries": [\n');
  if (start < 0) return 0;
  const end = text.indexOf("\n  ]", start);
  let n = 0;
  for (
    let i = text.indexOf("\n    {", start);
    i >= 0 && i < end;
    i = text.indexOf("\n    {", i + 1)
  ) {
    n++;
  }
  return n;
}

/** Reads a manifest back into a Model; throws with a reason when it is not one this svcgen wrote. */
export function parseManifest(text: string): Model {
  // A Postgres type read back gets OID 0: unknown here, and never needed after analysis.
  const data = JSON.parse(text, (_key, value: unknown) =>
    typeof value === "object" && value !== null && "typname" in value && !("oid" in value)
      ? { ...value, oid: 0 }
      : value,
  ) as Partial<Model> & { manifestVersion?: unknown };
  if (data.manifestVersion !== manifestVersion) {
    throw new Error(
      `manifest version ${String(data.manifestVersion)}, expected ${manifestVersion} (written by another svcgen)`,
    );
  }
  for (const key of ["queries", "services", "constraints"] as const) {
    if (!Array.isArray(data[key])) throw new Error(`no ${key} list`);
  }
  return buildModel({
    queries: data.queries ?? [],
    services: data.services ?? [],
    constraints: data.constraints ?? [],
  });
}
