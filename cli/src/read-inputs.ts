/**
 * Reads every input of a generate run once, at the edge: query files, migrations, the protos
 * (built by buf into descriptors) and the handler files that already exist. The pure core
 * (`generate.ts`) works on the result and touches no disk.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ResolvedConfig } from "./config/config.js";
import { Codes, type Diagnostic } from "./diagnostics.js";
import type { SourceFile } from "./inputs.js";
import { kebabCase } from "./names.js";
import { projectPath } from "./project-paths.js";
import type { ProtoBuild } from "./proto/buf-build.js";
import { decodeUtf8 } from "./utf8.js";

/** Everything a generate run reads. */
export interface Inputs {
  readonly config: ResolvedConfig;
  /** Query files, in the config's (sorted) order. */
  readonly queryFiles: readonly SourceFile[];
  /** Migration files, in the order they are applied. */
  readonly migrations: readonly SourceFile[];
  /** The protos built by buf; undefined without `proto:` (or when not asked for, or on a build error). */
  readonly protos: ProtoBuild | undefined;
  /** The handler files of the protos' services that exist, by project path. */
  readonly handlerFiles: ReadonlyMap<string, string>;
  /** Files that could not be read, a proto build that failed. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Options of {@link readInputs}. */
export interface ReadInputsOptions {
  /** Build the protos and read handler files. Default true (when the config has `proto:`). */
  readonly protos?: boolean;
}

/**
 * Reads project files (absolute paths) as source files named by project path. A file that
 * cannot be read is an SVC009 diagnostic naming `what` and is left out. The one reader of
 * query files and migrations.
 */
export async function readSourceFiles(
  rootDir: string,
  absPaths: readonly string[],
  what: string,
): Promise<{ files: SourceFile[]; diagnostics: Diagnostic[] }> {
  const files: SourceFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const read = await Promise.all(
    absPaths.map(async (abs): Promise<{ path: string; bytes?: Buffer; error?: string }> => {
      const path = projectPath(rootDir, abs);
      try {
        return { path, bytes: await readFile(abs) };
      } catch (e) {
        return { path, error: (e as Error).message };
      }
    }),
  );
  for (const r of read) {
    if (r.bytes === undefined) {
      diagnostics.push({
        severity: "error",
        code: Codes.io,
        message: `cannot read ${what}: ${r.error}`,
        file: r.path,
      });
      continue;
    }
    const decoded = decodeUtf8(r.bytes);
    if (decoded.ok) {
      files.push({ path: r.path, text: decoded.text });
      continue;
    }
    // Decoding with replacement characters would turn this into confusing SQL errors (or a
    // "missing annotation"); say what is wrong and where.
    const byte = (r.bytes[decoded.badByte] ?? 0).toString(16).padStart(2, "0");
    diagnostics.push({
      severity: "error",
      code: Codes.io,
      message: `${what} is not valid UTF-8: byte 0x${byte} at byte offset ${decoded.badByte}`,
      file: r.path,
      line: decoded.line,
      column: decoded.column,
      hint: "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
    });
  }
  return { files, diagnostics };
}

/** Reads every input the config names. Never throws for a user error. */
export async function readInputs(
  config: ResolvedConfig,
  opts: ReadInputsOptions = {},
): Promise<Inputs> {
  const [queries, migrations] = await Promise.all([
    readSourceFiles(config.rootDir, config.queryFiles, "query file"),
    readSourceFiles(config.rootDir, config.schemaFiles, "migration"),
  ]);
  const diagnostics = [...queries.diagnostics, ...migrations.diagnostics];
  let protos: ProtoBuild | undefined;
  const handlerFiles = new Map<string, string>();
  if (config.proto !== undefined && opts.protos !== false) {
    const { buildProto } = await import("./proto/buf-build.js");
    const built = await buildProto(config.proto.roots, config.rootDir);
    diagnostics.push(...built.diagnostics);
    protos = built.build;
    const handlersDir = config.proto.handlersDir;
    const services = (protos?.files ?? [])
      .filter((f) => protos?.userFiles.includes(f.name) === true)
      .flatMap((f) => f.service.map((s) => s.name));
    const read = await readSourceFiles(
      config.rootDir,
      services.map((s) => join(handlersDir, kebabCase(s), "handlers.ts")),
      "handler file",
    );
    // A handler file that does not exist yet is created; only existing ones are inputs.
    for (const f of read.files) handlerFiles.set(f.path, f.text);
  }
  return {
    config,
    queryFiles: queries.files,
    migrations: migrations.files,
    protos,
    handlerFiles,
    diagnostics,
  };
}
