/**
 * Loading `svcgen.yaml`: read the file, parse YAML with node positions, validate against
 * config-schema.ts, apply defaults, substitute `${VAR}`, and resolve paths against the config
 * file's folder (checking that they exist). Every problem becomes a diagnostic through
 * config-reporter.ts; nothing stops at the first one. The keys and defaults are documented in
 * config-schema.ts.
 */
import { readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { type Node, parseDocument } from "yaml";
import { Codes, type Diagnostic, positionAt } from "../diagnostics.js";
import type { TsImport, TsType } from "../model.js";
import { builtinTemplateNames } from "../templates/template-registry.js";
import type {
  DateMode,
  DeployConfig,
  Int8Mode,
  OverrideMatch,
  ProtoConfig,
  ResolvedConfig,
  TemplatesConfig,
  TypeOverride,
} from "./config.js";
import { ConfigReporter, isRecord, joinPath, type PathKey } from "./config-reporter.js";
import {
  anyPathList,
  configSchema,
  deployFileKinds,
  overrideSchema,
  type RawConfig,
  type RawImport,
  type RawOverride,
} from "./config-schema.js";
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

/** One load: resolves each section, reporting problems through its {@link ConfigReporter}. */
class ConfigLoader {
  private readonly doc;
  private readonly report: ConfigReporter;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly rootDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    this.report = new ConfigReporter(text, file, this.doc);
  }

  async load(configPath: string): Promise<ResolvedConfig | undefined> {
    if (this.doc.errors.length > 0) {
      // A broken document has no reliable structure to validate: report only the syntax.
      for (const e of this.doc.errors) {
        this.report.errorAtOffset(e.pos[0], `invalid YAML: ${firstLine(e.message)}`);
      }
      return undefined;
    }
    const raw: unknown = this.doc.toJS() ?? {};
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.report.reportIssue(issue, [], raw);
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
    // `proto:` with nothing under it means "protos, with the defaults"; `proto: folder` (or a
    // list) is short for `proto: { roots: folder }`.
    const proto = isRecord(obj.proto)
      ? await this.resolveProto(obj.proto, false)
      : obj.proto === null
        ? await this.resolveProto({}, false)
        : typeof obj.proto === "string" || Array.isArray(obj.proto)
          ? await this.resolveProto({ roots: obj.proto }, true)
          : undefined;
    const templates =
      typeof obj.templates === "string" && obj.templates !== ""
        ? await this.resolveTemplates(obj.templates)
        : undefined;
    if (
      fields === undefined ||
      this.report.hasErrors() ||
      schemaFiles === undefined ||
      queryFiles === undefined ||
      database === undefined ||
      types === undefined
    ) {
      return undefined;
    }
    const config = this.build(configPath, fields, schemaFiles, queryFiles, database, types, proto);
    const deploy =
      fields.deploy === undefined ? undefined : this.resolveDeploy(fields.deploy ?? {});
    return {
      ...config,
      ...(templates === undefined ? {} : { templates }),
      ...(deploy === undefined ? {} : { deploy }),
    };
  }

  /** Diagnostics in source order, which is how a user reads and fixes them. */
  sortedDiagnostics(): Diagnostic[] {
    return this.report.sortedDiagnostics();
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
      ...(raw.options?.unannotated === undefined ? {} : { unannotated: raw.options.unannotated }),
      cacheDir: resolve(this.rootDir, raw.cache ?? ".svcgen-cache"),
      proto,
      errorDomain: raw.errors?.domain ?? defaultErrorDomain(this.rootDir),
      ...(raw.events?.transport === undefined ? {} : { eventsTransport: raw.events.transport }),
    };
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
      const node = this.report.nodeAt(path).node;
      const abs = resolve(this.rootDir, entry);
      const kind = await pathKind(abs);
      if (kind === "missing") {
        ok = false;
        this.report.errorAt(
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
          this.report.warningAt(node, `${joinPath(path)}: folder ${entry} has no .sql files`);
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
      this.report.errorAtOffset(
        this.report.scalarOffset(["database", "url"], sub.offset),
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
      this.report.warningAt(
        this.report.nodeAt(["database", "url"]).node,
        `database.url: ${names === "" ? "is empty" : `${names} is not set`}; using an embedded PostgreSQL server`,
      );
    }
    const postgres = typeof raw.postgres === "number" ? raw.postgres : 15;
    const useLiveSchema = raw.useLiveSchema === true;
    if (useLiveSchema && url === undefined) {
      this.report.errorAt(
        this.report.nodeAt(["database", "useLiveSchema"]).node,
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
      const node = this.report.nodeAt(path).node;
      const match = this.overrideMatch(o, path, node);
      const paramText = o.paramType ?? o.tsType;
      const resultText = o.resultType ?? o.tsType;
      if (paramText === undefined || resultText === undefined) {
        ok = false;
        this.report.errorAt(
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
      this.report.errorAt(
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

  /**
   * The `templates:` folder and the overrides in it. A missing folder is a warning (the
   * built-ins are used; `svcgen templates eject` creates it); a file whose name is not a
   * built-in template's is an error with the closest name, since it would silently not apply.
   * Dot files (`.gitkeep`) are ignored.
   */
  private async resolveTemplates(entry: string): Promise<TemplatesConfig> {
    const dir = resolve(this.rootDir, entry);
    const node = this.report.nodeAt(["templates"]).node;
    const kind = await pathKind(dir);
    if (kind !== "dir") {
      if (kind === "missing") {
        this.report.warningAt(
          node,
          `templates: folder ${entry} does not exist; using the built-in templates (run \`svcgen templates eject\` to copy them there)`,
        );
      } else {
        this.report.errorAt(node, `templates: ${entry} is a file, not a folder`);
      }
      return { dir, overrides: [] };
    }
    const names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort(compareStrings);
    const overrides: TemplatesConfig["overrides"][number][] = [];
    for (const name of names) {
      if (builtinTemplateNames.includes(name)) {
        overrides.push({ name, path: join(dir, name) });
        continue;
      }
      const guess = closestMatch(name, builtinTemplateNames);
      this.report.errorAt(
        node,
        `templates: ${toSlash(join(entry, name))} does not override any built-in template`,
        guess !== undefined
          ? `did you mean \`${guess}\`?`
          : `the built-in templates are ${builtinTemplateNames.join(", ")}`,
      );
    }
    return { dir, overrides };
  }

  /** Applies the defaults of `deploy:` (validated by the schema already). */
  private resolveDeploy(raw: NonNullable<RawConfig["deploy"]>): DeployConfig {
    const apps = Object.entries(raw.apps ?? {}).map(([service, app]) => {
      const offset = this.report.keyNode(["deploy", "apps"], service)?.range?.[0] ?? 0;
      return { service, app, ...positionAt(this.text, offset) };
    });
    // DATABASE_URL is what every service needs; listing it twice would set it twice.
    const secrets = [...new Set(["DATABASE_URL", ...(raw.secrets ?? [])])].sort(compareStrings);
    return {
      dir: resolve(this.rootDir, raw.dir ?? "deploy"),
      files: deployFileKinds.filter((k) => raw.files === undefined || raw.files.includes(k)),
      region: raw.region ?? "ams",
      strategy: raw.strategy ?? "bluegreen",
      vm: { size: raw.vm?.size ?? "shared-cpu-1x", memory: raw.vm?.memory ?? "512mb" },
      registry: raw.registry ?? "",
      secrets,
      shutdownGraceMs: raw.shutdownGraceMs ?? 10_000,
      node: raw.node ?? 20,
      apps,
    };
  }

  /** `proto:` resolved; `shorthand` when the roots were written as `proto:`'s own value. */
  private async resolveProto(
    raw: Record<string, unknown>,
    shorthand: boolean,
  ): Promise<ProtoConfig | undefined> {
    const parsed = anyPathList.safeParse(raw.roots);
    if (raw.roots !== undefined && !parsed.success) return undefined;
    const list = parsed.success ? [parsed.data].flat() : ["proto"];
    const absRoots: string[] = [];
    const rootsKey: PathKey[] = shorthand ? ["proto"] : ["proto", "roots"];
    for (const [i, entry] of list.entries()) {
      const abs = resolve(this.rootDir, entry);
      if ((await pathKind(abs)) !== "dir") {
        const path: PathKey[] = Array.isArray(raw.roots) ? [...rootsKey, i] : rootsKey;
        this.report.errorAt(
          raw.roots === undefined
            ? this.report.nodeAt(["proto"]).node
            : this.report.nodeAt(path).node,
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
}

// --- helpers --------------------------------------------------------------------------------

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

/** The project's name: `name` of the package.json beside the config, else the folder's name. */
export function defaultErrorDomain(rootDir: string): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(rootDir, "package.json"), "utf8"));
    const name = isRecord(pkg) ? pkg.name : undefined;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // No package.json, or not JSON: the folder's name.
  }
  return basename(rootDir);
}
