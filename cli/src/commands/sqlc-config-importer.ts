/**
 * `svcgen init --from-sqlc [sqlc.yaml|sqlc.json]`: writes the svcgen.yaml equivalent to a
 * sqlc configuration (versions 1 and 2) beside it, and reports every setting it cannot carry
 * over at its line and column in the sqlc file.
 *
 * Carried over: the first PostgreSQL package (v1 `packages[]`) or `sql[]` entry (v2): schema,
 * queries, out (v1 `path`, v2 `gen.go.out` or the first `codegen[].out`), `database.uri`,
 * `emit_prepared_queries`, and type overrides by `db_type` or `column` whose `go_type` has a
 * TypeScript equivalent (the type of the value node-postgres yields for it: `string`,
 * `number`, `boolean`, `Date`, ...). Everything else is reported as a warning that says why.
 */
import { constants, readdirSync, readFileSync, statSync } from "node:fs";
import { access, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { isMap, isPair, isScalar, isSeq, type Node, parseDocument, stringify } from "yaml";
import { Codes, type Diagnostic, LineIndex } from "../diagnostics.js";

/** sqlc's config file names, in the order sqlc looks for them. */
export const sqlcConfigNames = ["sqlc.yaml", "sqlc.yml", "sqlc.json"] as const;

/** What {@link convertSqlcConfig} produces. */
export interface SqlcConversion {
  /** The svcgen.yaml text; undefined when the sqlc config has nothing to carry over. */
  readonly yaml: string | undefined;
  /** Errors (nothing written) and warnings (settings not carried over), at their locations. */
  readonly diagnostics: Diagnostic[];
}

/** What {@link runInitFromSqlc} did. */
export interface InitFromSqlcResult {
  /** Created files, relative to the folder (`svcgen.yaml` beside the sqlc config). */
  readonly created: string[];
  readonly diagnostics: Diagnostic[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
type Path = readonly (string | number)[];

const isObj = (v: Json | undefined): v is Obj =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
const asList = (v: Json | undefined): Json[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];

/**
 * The TypeScript type of the value node-postgres yields for a column sqlc maps to a Go type,
 * by the Go type's full name. Pointers and `sql.Null*` wrappers map to their value type (svcgen
 * writes nullability as `| null` itself).
 */
const goToTs: Readonly<Record<string, string>> = {
  string: "string",
  bool: "boolean",
  int: "number",
  int8: "number",
  int16: "number",
  int32: "number",
  uint: "number",
  uint8: "number",
  uint16: "number",
  uint32: "number",
  float32: "number",
  float64: "number",
  int64: "bigint",
  uint64: "bigint",
  byte: "number",
  rune: "number",
  "[]byte": "Buffer",
  "time.Time": "Date",
  "interface{}": "unknown",
  any: "unknown",
  "encoding/json.RawMessage": "unknown",
  "json.RawMessage": "unknown",
  "github.com/google/uuid.UUID": "string",
  "github.com/google/uuid.NullUUID": "string",
  "github.com/gofrs/uuid.UUID": "string",
  "github.com/jackc/pgtype.UUID": "string",
  "github.com/jackc/pgx/v5/pgtype.UUID": "string",
  "github.com/shopspring/decimal.Decimal": "string",
  "github.com/lib/pq.StringArray": "string[]",
  "github.com/shopspring/decimal.NullDecimal": "string",
  "database/sql.NullString": "string",
  "database/sql.NullBool": "boolean",
  "database/sql.NullInt16": "number",
  "database/sql.NullInt32": "number",
  "database/sql.NullInt64": "bigint",
  "database/sql.NullFloat64": "number",
  "database/sql.NullTime": "Date",
};

/** The TS equivalent of a sqlc `go_type` (string or `{ import, package, type, pointer, slice }`). */
function tsTypeOfGoType(goType: Json | undefined): string | undefined {
  let name: string;
  let slice = false;
  if (typeof goType === "string") {
    name = goType;
  } else if (isObj(goType) && typeof goType.type === "string") {
    const imp = typeof goType.import === "string" ? goType.import : "";
    name = imp === "" ? goType.type : `${imp}.${goType.type}`;
    slice = goType.slice === true;
  } else {
    return undefined;
  }
  name = name.replace(/^\*+/, "");
  while (name.startsWith("[]") && name !== "[]byte") {
    slice = true;
    name = name.slice(2).replace(/^\*+/, "");
  }
  const ts = goToTs[name];
  if (ts === undefined) return undefined;
  return slice ? `${ts}[]` : ts;
}

/** `packages[0].overrides[2].go_type`. */
function showPath(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Settings that describe Go code only: reported with this reason. */
const goOnly =
  "it shapes the Go code sqlc writes; svcgen writes TypeScript and has no equivalent setting";

/** Why a known sqlc package setting is not carried over; undefined: carried or ignored. */
function whyNotCarried(key: string, value: Json): string | undefined {
  switch (key) {
    case "engine":
    case "schema":
    case "queries":
    case "path":
    case "out":
    case "overrides":
    case "emit_prepared_queries":
    case "database":
    case "gen":
    case "codegen":
      return undefined;
    // svcgen already behaves like this; nothing to carry.
    case "emit_empty_slices":
      return value === true ? undefined : "svcgen's :many always returns an array, never null";
    case "emit_pointers_for_null_types":
      return undefined;
    case "strict_function_checks":
    case "strict_order_by":
      return "svcgen checks every query against a real PostgreSQL server, which is always strict";
    case "rename":
      return "svcgen names fields after their columns in camelCase and has no rename map";
    case "rules":
      return "sqlc vet rules have no svcgen equivalent";
    case "analyzer":
      return "svcgen always analyses against a PostgreSQL server";
    case "sql_package":
    case "sql_driver":
      return "svcgen's generated code uses node-postgres (pg); there is no driver to choose";
    case "emit_json_tags":
    case "json_tags_case_style":
    case "emit_db_tags":
      return "svcgen's rows are plain objects with camelCase keys; there are no struct tags";
    default:
      return goOnly;
  }
}

/**
 * Converts the text of a sqlc config (`file` is its path as shown in diagnostics) into
 * svcgen.yaml text. Pure, but for `schemaNote`: given each schema path as written, it returns
 * why svcgen would read that path differently from sqlc (e.g. down migrations in it), if so.
 */
export function convertSqlcConfig(
  text: string,
  file: string,
  schemaNote: (path: string) => string | undefined = () => undefined,
): SqlcConversion {
  const diagnostics: Diagnostic[] = [];
  const lines = new LineIndex(text);
  const doc = parseDocument(text, { prettyErrors: false });
  const report = (
    severity: Diagnostic["severity"],
    node: Node | undefined | null,
    message: string,
    hint?: string,
  ) => {
    const offset = node?.range?.[0];
    const pos = offset === undefined ? undefined : lines.positionAt(offset);
    diagnostics.push({
      severity,
      code: Codes.config,
      message,
      file,
      ...(pos === undefined ? {} : { line: pos.line, column: pos.column }),
      ...(hint === undefined ? {} : { hint }),
    });
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.positionAt(e.pos[0]);
      diagnostics.push({
        severity: "error",
        code: Codes.config,
        message: `not valid YAML or JSON: ${e.message.split("\n")[0] ?? ""}`,
        file,
        line: pos.line,
        column: pos.column,
      });
    }
    return { yaml: undefined, diagnostics };
  }
  /** The key node of the mapping entry at `path` (or the value node for list items). */
  const nodeAt = (path: Path): Node | undefined => {
    const parent = path.length <= 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      for (const item of parent.items) {
        if (isPair(item) && isScalar(item.key) && item.key.value === last) {
          return item.key as Node;
        }
      }
    }
    if (isSeq(parent) && typeof last === "number") return (parent.items[last] ?? undefined) as Node;
    return undefined;
  };
  const notCarried = (path: Path, why: string) =>
    report("warning", nodeAt(path), `${showPath(path)} is not carried over: ${why}`);

  const root = doc.toJS() as Json;
  if (!isObj(root)) {
    report("error", doc.contents, "expected a mapping with version and packages or sql");
    return { yaml: undefined, diagnostics };
  }
  const version = String(root.version ?? "");
  if (version !== "1" && version !== "2") {
    report(
      "error",
      nodeAt(["version"]) ?? doc.contents,
      `sqlc config version ${JSON.stringify(root.version ?? null)} is not supported`,
      'use version "1" or "2"',
    );
    return { yaml: undefined, diagnostics };
  }
  const listKey = version === "1" ? "packages" : "sql";
  const entries = asList(root[listKey]);

  // Top-level settings.
  for (const key of Object.keys(root)) {
    if (key === "version" || key === listKey) continue;
    if (key === "overrides" && version === "2") continue;
    if (key === "overrides" && version === "1") continue;
    if (key === "rename") {
      notCarried([key], whyNotCarried(key, root[key] ?? null) ?? goOnly);
      continue;
    }
    notCarried(
      [key],
      key === "plugins"
        ? "svcgen has no sqlc plugins; its own plugin is protoc-gen-svcgen"
        : key === "cloud" || key === "servers"
          ? "svcgen has no hosted service"
          : key === "rules"
            ? "sqlc vet rules have no svcgen equivalent"
            : "svcgen has no equivalent setting",
    );
  }

  // The first PostgreSQL entry becomes the project; others are reported.
  let chosen: number | undefined;
  entries.forEach((e, i) => {
    if (!isObj(e)) return;
    const engine = typeof e.engine === "string" ? e.engine : version === "1" ? "postgresql" : "";
    if (engine !== "postgresql") {
      report(
        "warning",
        nodeAt([listKey, i, "engine"]) ?? nodeAt([listKey, i]),
        `${listKey}[${i}] is not carried over: engine ${engine || "(none)"} is not PostgreSQL`,
      );
      return;
    }
    if (chosen === undefined) {
      chosen = i;
      return;
    }
    report(
      "warning",
      nodeAt([listKey, i]),
      `${listKey}[${i}] is not carried over: svcgen.yaml describes one project and ${listKey}[${chosen}] is converted`,
      "convert it into a second svcgen.yaml in its own folder",
    );
  });
  if (chosen === undefined) {
    report(
      "error",
      nodeAt([listKey]) ?? doc.contents,
      `no PostgreSQL entry in ${listKey}`,
      "svcgen analyses PostgreSQL only",
    );
    return { yaml: undefined, diagnostics };
  }
  const at = chosen;
  const entry = entries[at] as Obj;
  const base: Path = [listKey, at];
  const out: Obj = {};
  const paths = (key: "schema" | "queries"): Json | undefined => {
    const list = asList(entry[key]).filter((p): p is string => typeof p === "string");
    if (list.length === 0) {
      report("error", nodeAt([...base, key]) ?? nodeAt(base), `${listKey}[${at}] has no ${key}`);
      return undefined;
    }
    for (const p of list) {
      if (/[*?[\]]/.test(p)) {
        report(
          "warning",
          nodeAt([...base, key]),
          `${key} pattern ${p} is written as is: svcgen.yaml takes files and folders, not patterns`,
          "list the files or their folder instead",
        );
      }
    }
    return list.length === 1 ? (list[0] as string) : list;
  };
  const schema = paths("schema");
  for (const p of asList(schema ?? null)) {
    const note = typeof p === "string" ? schemaNote(p) : undefined;
    if (note !== undefined) {
      report(
        "warning",
        nodeAt([...base, "schema"]),
        `schema ${p}: ${note}`,
        "svcgen applies every statement of every .sql file of the schema; move rollbacks elsewhere",
      );
    }
  }
  const queries = paths("queries");
  if (schema === undefined || queries === undefined) return { yaml: undefined, diagnostics };
  out.version = 1;
  out.schema = schema;
  out.queries = queries;

  // Where the generated code goes, and the language-specific block whose settings apply.
  let genBlock: Obj | undefined;
  let genPath: Path | undefined;
  if (version === "1") {
    genBlock = entry;
    genPath = base;
    if (typeof entry.path === "string") out.out = entry.path;
  } else {
    const gen = isObj(entry.gen) ? entry.gen : {};
    for (const lang of Object.keys(gen)) {
      if (lang === "go") continue;
      notCarried(
        [...base, "gen", lang],
        "svcgen writes TypeScript; the Go settings (when present) are the ones converted",
      );
    }
    if (isObj(gen.go)) {
      genBlock = gen.go;
      genPath = [...base, "gen", "go"];
      if (typeof gen.go.out === "string") out.out = gen.go.out;
    }
    asList(entry.codegen).forEach((c, i) => {
      if (isObj(c) && out.out === undefined && typeof c.out === "string") out.out = c.out;
      notCarried([...base, "codegen", i], "svcgen has no sqlc plugins; only `out` is used");
    });
    const db = isObj(entry.database) ? entry.database : undefined;
    if (db !== undefined) {
      if (typeof db.uri === "string") out.database = { url: db.uri };
      for (const k of Object.keys(db)) {
        if (k === "uri") continue;
        notCarried(
          [...base, "database", k],
          k === "managed"
            ? "svcgen starts an embedded PostgreSQL when database.url is empty"
            : "svcgen has no equivalent setting",
        );
      }
    }
    for (const key of Object.keys(entry)) {
      if (["engine", "schema", "queries", "gen", "codegen", "database", "name"].includes(key)) {
        continue;
      }
      notCarried([...base, key], whyNotCarried(key, entry[key] ?? null) ?? goOnly);
    }
  }

  const options: Obj = {};
  const types: Json[] = [];
  if (genBlock !== undefined && genPath !== undefined) {
    for (const key of Object.keys(genBlock)) {
      const value = genBlock[key] ?? null;
      if (key === "emit_prepared_queries" && typeof value === "boolean") {
        options.preparedStatements = value;
        continue;
      }
      if (version === "1" && ["engine", "schema", "queries", "path"].includes(key)) continue;
      if (version === "2" && key === "out") continue;
      if (key === "overrides") continue;
      const why = whyNotCarried(key, value);
      if (why !== undefined) notCarried([...genPath, key], why);
    }
    overridesOf(asList(genBlock.overrides), [...genPath, "overrides"], types, notCarried);
  }
  // Global overrides: v1 `overrides`, v2 `overrides.go.overrides` (and its `rename`).
  if (version === "1") {
    overridesOf(asList(root.overrides), ["overrides"], types, notCarried);
  } else if (isObj(root.overrides)) {
    for (const lang of Object.keys(root.overrides)) {
      const block = root.overrides[lang];
      if (lang !== "go" || !isObj(block)) {
        notCarried(["overrides", lang], "only the Go overrides are converted");
        continue;
      }
      for (const k of Object.keys(block)) {
        if (k === "overrides") continue;
        notCarried(["overrides", "go", k], whyNotCarried(k, block[k] ?? null) ?? goOnly);
      }
      overridesOf(asList(block.overrides), ["overrides", "go", "overrides"], types, notCarried);
    }
  }
  if (types.length > 0) out.types = types;
  if (Object.keys(options).length > 0) out.options = options;

  const header =
    `# svcgen configuration converted from ${basename(file)} by \`svcgen init --from-sqlc\`.\n` +
    "# Every key and its default: see svcgen's README. Settings that could not be carried over\n" +
    "# were reported when this file was written.\n";
  return { yaml: header + stringify(out, { lineWidth: 0 }), diagnostics };
}

/** Converts sqlc overrides into svcgen `types:` entries, reporting what cannot be converted. */
function overridesOf(
  list: readonly Json[],
  path: Path,
  into: Json[],
  notCarried: (path: Path, why: string) => void,
): void {
  list.forEach((o, i) => {
    const here = [...path, i];
    if (!isObj(o)) {
      notCarried(here, "expected a mapping");
      return;
    }
    if (o.engine !== undefined && o.engine !== "postgresql") {
      notCarried(here, `it is for engine ${String(o.engine)}`);
      return;
    }
    if (o.nullable === true) {
      notCarried(
        [...here, "nullable"],
        "svcgen types a nullable value as `T | null` with T from the non-null override",
      );
      return;
    }
    const match: Obj = {};
    if (typeof o.db_type === "string") {
      match.pgType = o.db_type.replace(/^pg_catalog\./, "");
    } else if (typeof o.column === "string") {
      if (!/^[^.\s*]+(\.[^.\s*]+){1,2}$/.test(o.column)) {
        notCarried(
          [...here, "column"],
          `column ${o.column} is not table.column or schema.table.column (svcgen has no patterns)`,
        );
        return;
      }
      match.column = o.column;
    } else {
      notCarried(here, "it has neither db_type nor column");
      return;
    }
    const ts = tsTypeOfGoType(o.go_type);
    if (ts === undefined) {
      notCarried(
        [...here, "go_type"],
        `Go type ${JSON.stringify(o.go_type ?? null)} has no known TypeScript equivalent`,
        // (the hint is in the message: add a types: entry with your own tsType)
      );
      return;
    }
    for (const k of Object.keys(o)) {
      if (["db_type", "column", "go_type", "nullable", "engine"].includes(k)) continue;
      notCarried([...here, k], goOnly);
    }
    into.push({ ...match, tsType: ts });
  });
}

/**
 * Writes svcgen.yaml beside the sqlc config `configArg` (relative to `cwd`), or the first of
 * {@link sqlcConfigNames} in `cwd` when undefined. Refuses to overwrite an svcgen.yaml.
 * Warnings name each sqlc setting not carried over; errors mean nothing was written.
 */
export async function runInitFromSqlc(
  cwd: string,
  configArg: string | undefined,
): Promise<InitFromSqlcResult> {
  let path: string | undefined;
  if (configArg !== undefined) {
    path = resolve(cwd, configArg);
  } else {
    for (const name of sqlcConfigNames) {
      if (await exists(join(cwd, name))) {
        path = join(cwd, name);
        break;
      }
    }
  }
  const shown = (abs: string) => relative(cwd, abs).split(sep).join("/") || basename(abs);
  if (path === undefined) {
    return {
      created: [],
      diagnostics: [
        {
          severity: "error",
          code: Codes.config,
          message: `no ${sqlcConfigNames.join(", ")} in this folder`,
          hint: "pass the sqlc config: svcgen init --from-sqlc path/to/sqlc.yaml",
        },
      ],
    };
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    return {
      created: [],
      diagnostics: [
        {
          severity: "error",
          code: Codes.config,
          message: `cannot read ${shown(path)}: ${(e as Error).message}`,
          file: shown(path),
        },
      ],
    };
  }
  const configDir = dirname(path);
  const r = convertSqlcConfig(text, shown(path), (p) => downMigrationsIn(join(configDir, p)));
  if (r.yaml === undefined || r.diagnostics.some((d) => d.severity === "error")) {
    return { created: [], diagnostics: r.diagnostics };
  }
  const target = join(dirname(path), "svcgen.yaml");
  try {
    // `wx`: an existing svcgen.yaml is never overwritten.
    await writeFile(target, r.yaml, { flag: "wx" });
  } catch (e) {
    const existsAlready = (e as NodeJS.ErrnoException).code === "EEXIST";
    r.diagnostics.push({
      severity: "error",
      code: Codes.config,
      message: existsAlready
        ? `${shown(target)} already exists; svcgen init does not overwrite files`
        : `cannot create ${shown(target)}: ${(e as Error).message}`,
      file: shown(target),
      ...(existsAlready ? { hint: "move it away and run the command again" } : {}),
    });
    return { created: [], diagnostics: r.diagnostics };
  }
  return { created: [shown(target)], diagnostics: r.diagnostics };
}

/** Rollback markers sqlc cuts schema files at (its migrations.RemoveRollbackStatements). */
const rollbackMarkers = [
  "-- +goose down",
  "-- +migrate down",
  "---- create above / drop below ----",
  "-- migrate:down",
];

/**
 * What sqlc leaves out of a schema path and svcgen would apply: `*.down.sql` files of a
 * folder, and the part of a file after a migration tool's rollback marker.
 */
function downMigrationsIn(abs: string): string | undefined {
  let files: string[];
  try {
    files = statSync(abs).isDirectory()
      ? readdirSync(abs)
          .filter((f) => f.endsWith(".sql") && !f.startsWith("."))
          .sort()
          .map((f) => join(abs, f))
      : [abs];
  } catch {
    return undefined;
  }
  const down = files.filter((f) => f.endsWith(".down.sql")).map((f) => basename(f));
  if (down.length > 0) {
    return `sqlc skips down migrations, svcgen would apply ${down.slice(0, 3).join(", ")}${down.length > 3 ? ` and ${down.length - 3} more` : ""}`;
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    const marked = text
      .split("\n")
      .findIndex((l) => rollbackMarkers.some((m) => l.toLowerCase().startsWith(m)));
    if (marked !== -1) {
      return `sqlc ignores ${basename(f)} from line ${marked + 1} (a rollback section); svcgen would apply it`;
    }
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
