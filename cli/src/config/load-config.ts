/**
 * Loading `svcgen.yaml`: YAML with node positions, validated with zod, defaults applied,
 * `${VAR}` substituted, paths resolved against the config file's folder. Every problem becomes
 * a diagnostic (code SVC100) at the offending node; nothing stops at the first one.
 *
 * The file, with every key and its default:
 *
 * ```yaml
 * version: 1              # optional; must be 1
 * schema: migrations      # required; a folder or a list of files and folders. A folder gives its
 *                         #   direct .sql files sorted by name (not recursive, like sqlc); the
 *                         #   list order is the order migrations are applied in
 * queries: queries        # required; a folder or a list of files and folders, as schema
 * out: gen                # folder of generated code; default gen
 * database:
 *   url: ${DATABASE_URL}  # default "${DATABASE_URL}"; ${VAR} and ${VAR:-default} are read from
 *                         #   the environment; empty means: start an embedded server
 *   postgres: 15          # major version of the embedded server, 12 to 18; default 15
 *   keepSchema: true      # keep the scratch database (one per migrations hash) between runs
 *                         #   instead of rebuilding it every time; default true
 *   useLiveSchema: false  # analyse the database at url as it is, without a scratch copy
 *                         #   and without applying migrations; default false; needs a url
 * types:                  # type overrides; default none
 *   - pgType: numeric     # match by Postgres type (format_type spelling or typname), or
 *     # column: invoices.total   (table.column or schema.table.column); exactly one of the two
 *     tsType: Decimal     # the TS type for both parameters and results, or give
 *     paramType: ...      #   paramType and resultType separately (each overrides tsType)
 *     resultType: ...
 *     import: { name: Decimal, from: decimal.js }   # or a list; `as: Alias`, `default: true`
 * options:
 *   int8: bigint          # bigint | string | number; default bigint
 *   date: Date            # Date | string; default Date
 *   preparedStatements: true   # named prepared statements; default true
 * cache: .svcgen-cache    # analysis cache folder; default .svcgen-cache
 * proto:                  # optional; absent means the project has no protos, empty the defaults
 *   roots: [proto]        # buf module roots, a folder or a list; default [proto]; must exist
 *   handlers: src         # where handler skeletons are created; default src
 * ```
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { isMap, isPair, isScalar, isSeq, type Node, parseDocument } from "yaml";
import * as z from "zod";
import { Codes, type Diagnostic, positionAt } from "../diagnostics.js";
import type { TsImport, TsType } from "../model.js";
import type {
  DateMode,
  Int8Mode,
  OverrideMatch,
  ProtoConfig,
  ResolvedConfig,
  TypeOverride,
} from "./config.js";
import { substituteEnv } from "./env-substitution.js";
import { closestMatch } from "./suggest.js";

/** The names `findConfig` looks for, in order of preference. */
export const configFileNames = ["svcgen.yaml", "svcgen.yml"] as const;

/** What {@link loadConfig} returns: the config when there is no error, and all diagnostics. */
export interface LoadConfigResult {
  /** Undefined when any diagnostic is an error. */
  readonly config: ResolvedConfig | undefined;
  /** Errors and warnings, in source order. */
  readonly diagnostics: Diagnostic[];
}

/** Returns the path of `svcgen.yaml` (or else `svcgen.yml`) in `cwd`, undefined when neither exists. */
export async function findConfig(cwd: string): Promise<string | undefined> {
  for (const name of configFileNames) {
    const path = resolve(cwd, name);
    if (await isFile(path)) return path;
  }
  return undefined;
}

// --- the schema -------------------------------------------------------------------------

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, `expected ${what}`);

const pathList = (what: string) =>
  z.union([nonEmpty(`a ${what}`), z.array(nonEmpty(`a ${what}`)).min(1, `expected a ${what}`)], {
    error: `expected a ${what} or a list of them`,
  });

/** Any path list, to re-check one key on its own while resolving. */
const anyPathList = pathList("path");

const importSchema = z.strictObject(
  {
    name: z.string({ error: "expected an identifier" }).regex(identifier, "expected an identifier"),
    from: nonEmpty("a module specifier"),
    as: z
      .string({ error: "expected an identifier" })
      .regex(identifier, "expected an identifier")
      .optional(),
    default: z.boolean({ error: "expected true or false" }).optional(),
  },
  { error: "expected a mapping with name and from" },
);

const overrideSchema = z.strictObject(
  {
    pgType: nonEmpty("a Postgres type name").optional(),
    column: z
      .string({ error: "expected table.column or schema.table.column" })
      .regex(/^[^.\s]+(\.[^.\s]+){1,2}$/, "expected table.column or schema.table.column")
      .optional(),
    tsType: nonEmpty("a TypeScript type").optional(),
    paramType: nonEmpty("a TypeScript type").optional(),
    resultType: nonEmpty("a TypeScript type").optional(),
    import: z
      .union([importSchema, z.array(importSchema)], {
        error: "expected an import mapping or a list of them",
      })
      .optional(),
  },
  { error: "expected a mapping" },
);

const configSchema = z.strictObject(
  {
    version: z.literal(1, { error: "expected 1" }).optional(),
    schema: pathList("migration file or folder"),
    queries: pathList("query file or folder"),
    out: nonEmpty("a folder").optional(),
    database: z
      .strictObject(
        {
          url: z.string({ error: "expected a URL" }).optional(),
          postgres: z
            .int({ error: "expected an integer between 12 and 18" })
            .min(12, "expected an integer between 12 and 18")
            .max(18, "expected an integer between 12 and 18")
            .optional(),
          useLiveSchema: z.boolean({ error: "expected true or false" }).optional(),
          keepSchema: z.boolean({ error: "expected true or false" }).optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
    types: z.array(overrideSchema, { error: "expected a list of overrides" }).nullish(),
    options: z
      .strictObject(
        {
          int8: z
            .enum(["bigint", "string", "number"], { error: "expected bigint, string or number" })
            .optional(),
          date: z.enum(["Date", "string"], { error: "expected Date or string" }).optional(),
          preparedStatements: z.boolean({ error: "expected true or false" }).optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
    cache: nonEmpty("a folder").optional(),
    proto: z
      .strictObject(
        {
          roots: pathList("folder").optional(),
          handlers: nonEmpty("a folder").optional(),
        },
        { error: "expected a mapping" },
      )
      .nullish(),
  },
  { error: "expected a mapping of configuration keys" },
);

type RawConfig = z.infer<typeof configSchema>;
type RawOverride = z.infer<typeof overrideSchema>;
type RawImport = z.infer<typeof importSchema>;

/**
 * The keys each mapping accepts, by normalised path (`[]` for any list index); used for
 * "did you mean" hints on unknown keys.
 */
const knownKeys: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(configSchema.shape),
  database: ["url", "postgres", "useLiveSchema", "keepSchema"],
  "types[]": Object.keys(overrideSchema.shape),
  "types[].import": Object.keys(importSchema.shape),
  "types[].import[]": Object.keys(importSchema.shape),
  options: ["int8", "date", "preparedStatements"],
  proto: ["roots", "handlers"],
};

type PathKey = string | number;

// --- loading --------------------------------------------------------------------------------

/**
 * Reads, validates and resolves the config file at `configPath`. `env` supplies `${VAR}`
 * values (pass `process.env`). Diagnostics name the file relative to its folder (the project
 * folder), so usually just `svcgen.yaml`. A missing or unreadable file is one diagnostic
 * without a location. `config` is undefined when any error was found.
 */
export async function loadConfig(
  configPath: string,
  env: NodeJS.ProcessEnv,
): Promise<LoadConfigResult> {
  const absPath = resolve(configPath);
  const rootDir = dirname(absPath);
  const file = toSlash(relative(rootDir, absPath));
  let text: string;
  try {
    text = await readFile(absPath, "utf8");
  } catch (err) {
    const notFound = (err as NodeJS.ErrnoException).code === "ENOENT";
    return {
      config: undefined,
      diagnostics: [
        {
          severity: "error",
          code: Codes.config,
          message: notFound
            ? `config file ${absPath} not found`
            : `cannot read config file ${absPath}: ${(err as Error).message}`,
          hint: notFound
            ? "run `svcgen init` to create one, or pass --config"
            : "check its permissions",
        },
      ],
    };
  }
  const loader = new ConfigLoader(text, file, rootDir, env);
  const config = await loader.load(absPath);
  return { config, diagnostics: loader.sortedDiagnostics() };
}

/** One load: holds the source text and document for positions, and collects diagnostics. */
class ConfigLoader {
  readonly diagnostics: Diagnostic[] = [];
  private readonly doc;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly rootDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  }

  async load(configPath: string): Promise<ResolvedConfig | undefined> {
    if (this.doc.errors.length > 0) {
      // A broken document has no reliable structure to validate: report only the syntax.
      for (const e of this.doc.errors) {
        this.errorAtOffset(e.pos[0], `invalid YAML: ${firstLine(e.message)}`);
      }
      return undefined;
    }
    const raw: unknown = this.doc.toJS() ?? {};
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.reportIssue(issue, [], raw);
      // Paths and env of keys that did validate are still checked, so one run shows all.
    }
    const obj = isRecord(raw) ? raw : {};
    const fields = parsed.success ? parsed.data : undefined;
    const schemaFiles = await this.resolveSqlPaths(
      "schema",
      anyPathList.safeParse(obj.schema),
      false,
    );
    const queryFiles = await this.resolveSqlPaths(
      "queries",
      anyPathList.safeParse(obj.queries),
      true,
    );
    const database = this.resolveDatabase(isRecord(obj.database) ? obj.database : {});
    const types = this.resolveOverrides(Array.isArray(obj.types) ? obj.types : []);
    // `proto:` with nothing under it means "protos, with the defaults".
    const proto = isRecord(obj.proto)
      ? await this.resolveProto(obj.proto)
      : obj.proto === null
        ? await this.resolveProto({})
        : undefined;
    if (
      fields === undefined ||
      this.diagnostics.some((d) => d.severity === "error") ||
      schemaFiles === undefined ||
      queryFiles === undefined ||
      database === undefined ||
      types === undefined
    ) {
      return undefined;
    }
    return this.build(configPath, fields, schemaFiles, queryFiles, database, types, proto);
  }

  /** Diagnostics in source order, which is how a user reads and fixes them. */
  sortedDiagnostics(): Diagnostic[] {
    return [...this.diagnostics].sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
  }

  private build(
    configPath: string,
    raw: RawConfig,
    schemaFiles: string[],
    queryFiles: string[],
    database: ResolvedConfig["database"],
    types: TypeOverride[],
    proto: ProtoConfig | undefined,
  ): ResolvedConfig {
    const int8: Int8Mode = raw.options?.int8 ?? "bigint";
    const date: DateMode = raw.options?.date ?? "Date";
    return {
      configPath,
      rootDir: this.rootDir,
      schemaFiles,
      queryFiles,
      out: resolve(this.rootDir, raw.out ?? "gen"),
      database,
      types,
      int8,
      date,
      preparedStatements: raw.options?.preparedStatements ?? true,
      cacheDir: resolve(this.rootDir, raw.cache ?? ".svcgen-cache"),
      proto,
    };
  }

  // --- zod issues -> diagnostics ---------------------------------------------------------

  private reportIssue(issue: z.core.$ZodIssue, prefix: readonly PathKey[], root: unknown): void {
    const path = [...prefix, ...(issue.path as PathKey[])];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys[normalisePath(path)] ?? [];
      for (const key of issue.keys) {
        const guess = closestMatch(key, known);
        const keyNode = this.keyNode(path, key);
        this.errorAt(
          keyNode ?? this.nodeAt(path).node,
          `${joinPath([...path, key])}: unknown key \`${key}\``,
          guess !== undefined
            ? `did you mean \`${guess}\`?`
            : known.length > 0
              ? `known keys here: ${known.join(", ")}`
              : undefined,
        );
      }
      return;
    }
    if (issue.code === "invalid_union") {
      // Each branch failed; report the branch that got past the shape check (a list when a
      // list was given, a mapping when a mapping was), else the union's own message.
      const deep = issue.errors.filter(
        (branch) => !branch.every((i) => i.code === "invalid_type" && i.path.length === 0),
      );
      const only = deep.length === 1 ? deep[0] : undefined;
      if (only !== undefined) {
        for (const i of only) this.reportIssue(i, path, root);
        return;
      }
    }
    const value = valueAt(root, path);
    const last = path[path.length - 1];
    if (value === undefined && typeof last === "string") {
      // A required key that is absent: point at the mapping that should hold it.
      const parent = this.nodeAt(path.slice(0, -1)).node;
      this.errorAt(
        parent,
        `${joinPath(path)}: missing required key \`${last}\``,
        `add \`${last}:\`${path.length === 1 ? " at the top level" : ""}`,
      );
      return;
    }
    const { node } = this.nodeAt(path);
    const where = path.length === 0 ? "config" : joinPath(path);
    this.errorAt(node, `${where}: ${issue.message}`);
  }

  // --- resolution of individual sections ------------------------------------------------

  /** Expands `schema` or `queries` into absolute .sql file paths; undefined on errors. */
  private async resolveSqlPaths(
    key: "schema" | "queries",
    parsed: { success: boolean; data?: string | string[] | undefined },
    sortAll: boolean,
  ): Promise<string[] | undefined> {
    if (!parsed.success || parsed.data === undefined) return undefined;
    const entries = typeof parsed.data === "string" ? [parsed.data] : parsed.data;
    const files: string[] = [];
    let ok = true;
    for (const [i, entry] of entries.entries()) {
      const path = typeof parsed.data === "string" ? [key] : [key, i];
      const node = this.nodeAt(path).node;
      const abs = resolve(this.rootDir, entry);
      const kind = await pathKind(abs);
      if (kind === "missing") {
        ok = false;
        this.errorAt(
          node,
          `${joinPath(path)}: ${entry} does not exist`,
          `create it, or fix the path (relative to ${this.file}'s folder)`,
        );
      } else if (kind === "file") {
        files.push(abs);
      } else {
        const names = (await readdir(abs, { withFileTypes: true }))
          .filter((d) => d.name.endsWith(".sql") && (d.isFile() || d.isSymbolicLink()))
          .map((d) => d.name)
          .sort(compareStrings);
        if (names.length === 0) {
          this.warningAt(node, `${joinPath(path)}: folder ${entry} has no .sql files`);
        }
        files.push(...names.map((n) => join(abs, n)));
      }
    }
    if (!ok) return undefined;
    // The same file named twice is applied or analysed once, at its first place.
    const unique = [...new Set(files)];
    return sortAll ? unique.sort(compareStrings) : unique;
  }

  private resolveDatabase(raw: Record<string, unknown>): ResolvedConfig["database"] | undefined {
    const urlText =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a config-style reference, substituted below
      typeof raw.url === "string" ? raw.url : "${DATABASE_URL}";
    const sub = substituteEnv(urlText, this.env);
    if (sub.kind === "error") {
      this.errorAtOffset(
        this.scalarOffset(["database", "url"], sub.offset),
        `database.url: ${sub.message}`,
      );
      return undefined;
    }
    const url = sub.value.trim() === "" ? undefined : sub.value.trim();
    // The default `${DATABASE_URL}` written out (as `svcgen init` does) means "embedded unless
    // set" and needs no warning; any other reference that comes out empty probably does.
    const isDefault = typeof raw.url === "string" && raw.url.trim() === "$" + "{DATABASE_URL}";
    if (url === undefined && typeof raw.url === "string" && raw.url.trim() !== "" && !isDefault) {
      // Written out but empty after substitution: likely a variable missing from this shell.
      // Not an error, since an embedded server is a working fallback, but worth a word.
      const names = sub.unset.map((n) => `\${${n}}`).join(", ");
      this.warningAt(
        this.nodeAt(["database", "url"]).node,
        `database.url: ${names === "" ? "is empty" : `${names} is not set`}; using an embedded PostgreSQL server`,
      );
    }
    const postgres = typeof raw.postgres === "number" ? raw.postgres : 15;
    const useLiveSchema = raw.useLiveSchema === true;
    if (useLiveSchema && url === undefined) {
      this.errorAt(
        this.nodeAt(["database", "useLiveSchema"]).node,
        "database.useLiveSchema: needs a database URL, but database.url is empty",
        "set DATABASE_URL or database.url, or remove useLiveSchema",
      );
      return undefined;
    }
    const keepSchema = raw.keepSchema !== false;
    return { url, postgres, useLiveSchema, keepSchema };
  }

  private resolveOverrides(items: readonly unknown[]): TypeOverride[] | undefined {
    const out: TypeOverride[] = [];
    let ok = true;
    for (const [i, item] of items.entries()) {
      const parsed = overrideSchema.safeParse(item);
      if (!parsed.success) {
        ok = false; // already reported by the whole-config validation
        continue;
      }
      const o = parsed.data;
      const path = ["types", i];
      const node = this.nodeAt(path).node;
      const match = this.overrideMatch(o, path, node);
      const paramText = o.paramType ?? o.tsType;
      const resultText = o.resultType ?? o.tsType;
      if (paramText === undefined || resultText === undefined) {
        ok = false;
        this.errorAt(
          node,
          `${joinPath(path)}: needs tsType, or both paramType and resultType`,
          "tsType sets the type of parameters and results; paramType and resultType set one each",
        );
      }
      if (match === undefined || paramText === undefined || resultText === undefined) {
        ok = false;
        continue;
      }
      const imports = (
        o.import === undefined ? [] : Array.isArray(o.import) ? o.import : [o.import]
      ).map(toTsImport);
      out.push({
        match,
        paramType: typeRef(paramText, imports),
        resultType: typeRef(resultText, imports),
      });
    }
    return ok ? out : undefined;
  }

  private overrideMatch(
    o: RawOverride,
    path: PathKey[],
    node: Node | undefined,
  ): OverrideMatch | undefined {
    if ((o.pgType === undefined) === (o.column === undefined)) {
      this.errorAt(
        node,
        `${joinPath(path)}: needs exactly one of pgType and column`,
        "pgType: numeric overrides a Postgres type; column: invoices.total overrides one column",
      );
      return undefined;
    }
    if (o.pgType !== undefined) return { kind: "pgType", pgType: o.pgType };
    const parts = (o.column ?? "").split(".");
    if (parts.length === 3) {
      const [schema = "", table = "", column = ""] = parts;
      return { kind: "column", schema, table, column };
    }
    const [table = "", column = ""] = parts;
    return { kind: "column", table, column };
  }

  private async resolveProto(raw: Record<string, unknown>): Promise<ProtoConfig | undefined> {
    const parsed = anyPathList.safeParse(raw.roots);
    if (raw.roots !== undefined && !parsed.success) return undefined;
    const list = parsed.success ? [parsed.data].flat() : ["proto"];
    const absRoots: string[] = [];
    for (const [i, entry] of list.entries()) {
      const abs = resolve(this.rootDir, entry);
      if ((await pathKind(abs)) !== "dir") {
        const path: PathKey[] = Array.isArray(raw.roots)
          ? ["proto", "roots", i]
          : ["proto", "roots"];
        this.errorAt(
          raw.roots === undefined ? this.nodeAt(["proto"]).node : this.nodeAt(path).node,
          `${joinPath(path)}: folder ${entry} does not exist`,
          "create it, or set proto.roots to the folders holding your .proto files",
        );
        return undefined;
      }
      absRoots.push(abs);
    }
    const handlers = typeof raw.handlers === "string" && raw.handlers !== "" ? raw.handlers : "src";
    return { roots: absRoots, handlersDir: resolve(this.rootDir, handlers) };
  }

  // --- positions ------------------------------------------------------------------------

  /** The deepest node along `path` that exists, and whether it is the node at `path` itself. */
  private nodeAt(path: readonly PathKey[]): { node: Node | undefined; exact: boolean } {
    let node: unknown = this.doc.contents;
    for (const key of path) {
      const next = childNode(node, key);
      if (next === undefined) return { node: node as Node | undefined, exact: false };
      node = next;
    }
    return { node: node as Node | undefined, exact: true };
  }

  /** The key node of `key` in the mapping at `path`. */
  private keyNode(path: readonly PathKey[], key: string): Node | undefined {
    const { node, exact } = this.nodeAt(path);
    if (!exact || !isMap(node)) return undefined;
    const pair = node.items.find(
      (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key,
    );
    return pair !== undefined && isScalar(pair.key) ? pair.key : undefined;
  }

  /**
   * The source offset of character `index` of the scalar at `path`: exact for plain and
   * quoted scalars without escapes, the scalar's start otherwise.
   */
  private scalarOffset(path: readonly PathKey[], index: number): number {
    const { node, exact } = this.nodeAt(path);
    const start = node?.range?.[0] ?? 0;
    if (!exact || !isScalar(node) || typeof node.value !== "string") return start;
    const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
    const body = quoted ? start + 1 : start;
    return this.text.startsWith(node.value, body) ? body + index : start;
  }

  private errorAt(node: Node | undefined, message: string, hint?: string): void {
    this.errorAtOffset(node?.range?.[0] ?? 0, message, hint);
  }

  private errorAtOffset(offset: number, message: string, hint?: string): void {
    this.push("error", offset, message, hint);
  }

  private warningAt(node: Node | undefined, message: string): void {
    this.push("warning", node?.range?.[0] ?? 0, message, undefined);
  }

  private push(
    severity: Diagnostic["severity"],
    offset: number,
    message: string,
    hint: string | undefined,
  ): void {
    const { line, column } = positionAt(this.text, offset);
    this.diagnostics.push({
      severity,
      code: Codes.config,
      message,
      file: this.file,
      line,
      column,
      ...(hint !== undefined ? { hint } : {}),
    });
  }
}

// --- helpers --------------------------------------------------------------------------------

function childNode(node: unknown, key: PathKey): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof key === "number") return node.items[key];
  return undefined;
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (Array.isArray(v) && typeof key === "number") v = v[key];
    else if (isRecord(v) && typeof key === "string") v = v[key];
    else return undefined;
  }
  return v;
}

/** `types[0].import` from `["types", 0, "import"]`, as users see it in messages. */
function joinPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? key : `.${key}`;
  }
  return out;
}

/** Like {@link joinPath} with every index written `[]`, to look up {@link knownKeys}. */
function normalisePath(path: readonly PathKey[]): string {
  return joinPath(path.map((k) => (typeof k === "number" ? -1 : k))).replace(/\[-1\]/g, "[]");
}

function toTsImport(i: RawImport): TsImport {
  return {
    name: i.name,
    from: i.from,
    ...(i.as !== undefined ? { as: i.as } : {}),
    ...(i.default === true ? { isDefault: true } : {}),
  };
}

/**
 * A TS type reference for an override. An import is attached only to the types that mention
 * its local name, so a parameter-only type does not make result code import it too; an import
 * that neither mentions is kept on both, since the user asked for it.
 */
function typeRef(
  text: string,
  imports: readonly TsImport[],
): Extract<TsType, { kind: "override" }> {
  const mentioned = imports.filter((i) =>
    new RegExp(`(^|[^A-Za-z0-9_$])${escapeRegExp(i.as ?? i.name)}($|[^A-Za-z0-9_$])`).test(text),
  );
  return { kind: "override", text, imports: mentioned.length > 0 ? mentioned : [...imports] };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? s).trim();
}

function toSlash(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

/** Code-point order, independent of the locale, so file order is the same on every machine. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function pathKind(p: string): Promise<"file" | "dir" | "missing"> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? "dir" : "file";
  } catch {
    return "missing";
  }
}

async function isFile(p: string): Promise<boolean> {
  return (await pathKind(p)) === "file";
}
