/**
 * `protoc-gen-svcgen`: svcgen's proto stage as a buf/protoc plugin, built on
 * `@bufbuild/protoplugin`'s {@link Plugin} contract.
 *
 * **Same bytes as `svcgen generate`.** The plugin runs {@link generateProtoCode}, the pure
 * core `svcgen generate` runs, on the descriptors buf hands it, with an empty output prefix:
 * it answers `proto/**\/*_pb.ts` and `grpc/<service>.ts`, so with buf's `out:` set to the
 * project's `out` folder (`gen`) the files land exactly where `svcgen generate` writes them,
 * with identical content.
 *
 * **Where the Model comes from.** Binding RPCs to queries needs the analysed queries. The
 * manifest `svcgen generate` writes (`<out>/svcgen-manifest.json`) is the serialised Model, so
 * the plugin reads it (from the `out` folder of the project's `svcgen.yaml`: plugin option
 * `config=path/to/svcgen.yaml`, relative to the folder buf runs in; default `svcgen.yaml`
 * there) and binds buf's descriptors to its queries. It never opens a database, whatever
 * `DATABASE_URL` says: `run(request)` is a pure function of the request and the manifest.
 *
 * **Service entries and the error map.** Given the project's layout (which
 * {@link runSvcgenPlugin} reads from `svcgen.yaml`), it also answers `server/<service>.ts`,
 * `server/all.ts`, `errors.ts` and the test kit (`testing/setup.ts`, `testing/<service>.ts`),
 * the same bytes as `svcgen generate`'s: the entries and the kit from the services it bound
 * (the kit also from the migrations svcgen.yaml lists), the error map from those and the
 * manifest's constraints.
 *
 * **What it does not write.** Handler skeletons (`src/<service>/handlers.ts`) are created and
 * extended only by `svcgen generate`: they are user-owned files that must be read before being
 * extended, and a plugin only answers a request from buf with new files; it cannot reliably
 * read (or safely overwrite) files in the user's tree. Nor does it write `gen/db/**` or the
 * manifest: those come from SQL, not from protos.
 *
 * **Imports.** buf must resolve `svcgen/v1/options.proto` and `buf/validate/validate.proto`
 * offline; {@link writeProtoIncludes} writes the exact copies `svcgen generate` builds with
 * (`protoc-gen-svcgen --write-includes <dir>`), to list as a module in `buf.yaml`.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { create, protoInt64 } from "@bufbuild/protobuf";
import {
  type CodeGeneratorRequest,
  type CodeGeneratorResponse,
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponse_FileSchema,
  CodeGeneratorResponseSchema,
  Edition,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "@bufbuild/protoplugin";
import { buildModel } from "../analyse/model-builder.js";
import type { ResolvedConfig } from "../config/config.js";
import { findConfig, loadConfig } from "../config/load-config.js";
import { type Diagnostic, formatDiagnostic, hasErrors, sortDiagnostics } from "../diagnostics.js";
import { emitErrorMap } from "../emit/error-map-emitter.js";
import { emitServerEntries } from "../emit/server-entry-emitter.js";
import { emitTestingKit } from "../emit/testing-kit-emitter.js";
import { manifestName, parseManifest } from "../manifest.js";
import type { Model } from "../model.js";
import { projectPath } from "../project-paths.js";
import { listProtoFiles, loadValidateDescriptor, svcgenProtoDir } from "../proto/buf-build.js";
import { printFileDescriptor } from "../proto/descriptor-printer.js";
import { generateProtoCode } from "../proto/generate-proto.js";
import { ProtoCodes } from "../proto/proto-codes.js";
import { version as svcgenVersion } from "../version.js";

/** The plugin's name, as buf reports it. */
export const pluginName = "protoc-gen-svcgen";

/** Options of the plugin, parsed from buf's `opt:` (`config=svcgen.yaml`). */
export interface PluginOptions {
  /** Path of `svcgen.yaml`; undefined means `svcgen.yaml` (or `.yml`) in the working folder. */
  readonly config: string | undefined;
}

/**
 * Parses the plugin parameter: comma-separated `key=value` pairs, of which only `config` is
 * known. Unknown or malformed options are diagnostics.
 */
export function parsePluginOptions(parameter: string): {
  options: PluginOptions;
  diagnostics: Diagnostic[];
} {
  let config: string | undefined;
  const diagnostics: Diagnostic[] = [];
  for (const raw of parameter.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const value = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (key === "config" && value !== "") {
      config = value;
      continue;
    }
    diagnostics.push({
      severity: "error",
      code: ProtoCodes.compile,
      message:
        key === "config"
          ? "plugin option config needs a value: config=path/to/svcgen.yaml"
          : `unknown plugin option ${JSON.stringify(part)}`,
      hint: "protoc-gen-svcgen accepts one option: config=path/to/svcgen.yaml",
    });
  }
  return { options: { config }, diagnostics };
}

/** What the plugin needs besides buf's request: the analysed project. */
export interface PluginProject {
  /** The Model of the manifest: its queries are what RPCs bind to, as in `svcgen generate`. */
  readonly model: Model;
  /**
   * Project-relative source file of each of the project's proto paths (for diagnostics);
   * proto paths not in it are named as they are.
   */
  readonly sourcePaths: ReadonlyMap<string, string>;
  /** Called with every diagnostic of a run (warnings too), before the response is returned. */
  readonly onDiagnostics?: (diagnostics: readonly Diagnostic[]) => void;
  /** Formats error diagnostics into the response's `error` text. Default: {@link formatDiagnostic}. */
  readonly format?: (d: Diagnostic) => string;
  /**
   * Where the project keeps its files, to also answer `server/*.ts` and `errors.ts` (their
   * imports are relative to the output folder). Without it only messages and services are
   * written.
   */
  readonly layout?: PluginLayout;
}

/** The project layout the service entries and the error map depend on, from `svcgen.yaml`. */
export interface PluginLayout {
  /** The output folder, project-relative (`gen`): buf's `out` must be the same folder. */
  readonly out: string;
  /** The handlers folder, project-relative (`src`, from `proto.handlers`). */
  readonly handlersDir: string;
  /** The `ErrorInfo` domain (`errors.domain`, default the project folder's name). */
  readonly errorDomain: string;
  /** The migrations, project-relative, in order (the test kit's template). */
  readonly migrations: readonly string[];
  /** Major version of the embedded PostgreSQL (`database.postgres`). */
  readonly postgres: number;
}

/** The response features the plugin supports: proto3 `optional` and editions, like protoc-gen-es. */
function responseBase(): CodeGeneratorResponse {
  return create(CodeGeneratorResponseSchema, {
    supportedFeatures: protoInt64.parse(
      CodeGeneratorResponse_Feature.PROTO3_OPTIONAL |
        CodeGeneratorResponse_Feature.SUPPORTS_EDITIONS,
    ),
    minimumEdition: Edition.EDITION_PROTO2,
    maximumEdition: Edition.EDITION_2023,
  });
}

/**
 * The plugin for an analysed project: a pure, synchronous {@link Plugin}. `run` generates the
 * message and service files of every file buf asks for (`file_to_generate`, with everything
 * they import), byte-identical to `svcgen generate`'s `gen/proto` and `gen/grpc` files.
 * Error diagnostics (an unknown query, a type mismatch) make the response an error listing
 * all of them, and no files.
 */
export function createSvcgenPlugin(project: PluginProject): Plugin {
  return {
    name: pluginName,
    version: `v${svcgenVersion}`,
    run(request: CodeGeneratorRequest): CodeGeneratorResponse {
      const code = generateProtoCode({
        files: request.protoFile,
        userFiles: [...request.fileToGenerate].sort(),
        sourcePaths: project.sourcePaths,
        queries: project.model.queries,
        outDir: "",
      });
      const diagnostics = sortDiagnostics(code.diagnostics);
      project.onDiagnostics?.(diagnostics);
      const response = responseBase();
      if (hasErrors(diagnostics)) {
        response.error = errorText(diagnostics, project.format ?? ((d) => formatDiagnostic(d)));
        return response;
      }
      const files = [...code.files];
      const layout = project.layout;
      if (layout !== undefined) {
        // The Model `svcgen generate` builds: the manifest's queries and constraints with the
        // services just bound; emitted under the real `out` (relative imports depend on it),
        // then named relative to it, as buf's `out` expects.
        const model = buildModel({
          queries: project.model.queries,
          services: code.services,
          constraints: project.model.constraints,
        });
        const { out } = layout;
        const prefix = out === "" || out === "." ? "" : `${out}/`;
        const entries = emitServerEntries(model, { out, handlersDir: layout.handlersDir });
        const errors = emitErrorMap(model, { out, domain: layout.errorDomain });
        const kit = emitTestingKit(model, {
          out,
          migrations: layout.migrations,
          postgres: layout.postgres,
        });
        for (const f of [...entries, errors, ...kit]) {
          files.push({
            path: f.path.startsWith(prefix) ? f.path.slice(prefix.length) : f.path,
            content: f.content,
          });
        }
        files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      }
      for (const f of files) {
        response.file.push(
          create(CodeGeneratorResponse_FileSchema, { name: f.path, content: f.content }),
        );
      }
      return response;
    },
  };
}

/** The error diagnostics of a run as one text, one formatted diagnostic after another. */
function errorText(diagnostics: readonly Diagnostic[], format: (d: Diagnostic) => string): string {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const n = errors.length;
  return `${errors.map(format).join("\n")}\n${n} error${n === 1 ? "" : "s"}`;
}

/** Context of {@link runSvcgenPlugin}: where buf runs the plugin, and its environment. */
export interface PluginRunContext {
  /** The working folder (buf's): relative `config=` paths resolve against it. */
  readonly cwd: string;
  /** Environment for `${VAR}` in svcgen.yaml (only substituted; nothing is connected to). */
  readonly env: NodeJS.ProcessEnv;
}

/** What {@link runSvcgenPlugin} returns. */
export interface PluginRunResult {
  /** The response to write to stdout. */
  readonly response: CodeGeneratorResponse;
  /** Every diagnostic of the run (errors are also in `response.error`), sorted. */
  readonly diagnostics: readonly Diagnostic[];
  /** Warnings formatted for stderr (buf shows a plugin's stderr). */
  readonly warnings: readonly string[];
}

/** Source text of a diagnostic's file for its frame: an input of the analysis, or read from disk. */
async function sourceOf(
  d: Diagnostic,
  config: ResolvedConfig | undefined,
  sources: ReadonlyMap<string, string>,
): Promise<string | undefined> {
  if (d.file === undefined || d.line === undefined) return undefined;
  const known = sources.get(d.file);
  if (known !== undefined || config === undefined) return known;
  try {
    return await readFile(path.join(config.rootDir, d.file), "utf8");
  } catch {
    return undefined;
  }
}

/** Formats diagnostics with source frames, read once per file. */
async function formatAll(
  diagnostics: readonly Diagnostic[],
  config: ResolvedConfig | undefined,
  sources: ReadonlyMap<string, string>,
): Promise<Map<Diagnostic, string>> {
  const out = new Map<Diagnostic, string>();
  for (const d of diagnostics) out.set(d, formatDiagnostic(d, await sourceOf(d, config, sources)));
  return out;
}

/** A response that fails with `diagnostics`, formatted. */
async function failure(
  diagnostics: readonly Diagnostic[],
  config: ResolvedConfig | undefined,
  sources: ReadonlyMap<string, string>,
): Promise<PluginRunResult> {
  const sorted = sortDiagnostics(diagnostics);
  const text = await formatAll(sorted, config, sources);
  const response = responseBase();
  response.error = errorText(sorted, (d) => text.get(d) ?? formatDiagnostic(d));
  return { response, diagnostics: sorted, warnings: warningsOf(sorted, text) };
}

/** The warnings among `sorted`, formatted. */
function warningsOf(
  sorted: readonly Diagnostic[],
  text: ReadonlyMap<Diagnostic, string>,
): string[] {
  return sorted
    .filter((d) => d.severity === "warning")
    .map((d) => text.get(d) ?? formatDiagnostic(d));
}

/**
 * Runs the plugin for one request: parses the options, loads `svcgen.yaml`, reads the
 * manifest `svcgen generate` wrote, then runs {@link createSvcgenPlugin}. Never throws for a
 * user error: a bad option, a config error, a missing manifest or a binding error is a
 * response with `error` set (buf prints it and fails), listing every diagnostic with its
 * file, line and column. Touches no database.
 */
export async function runSvcgenPlugin(
  request: CodeGeneratorRequest,
  ctx: PluginRunContext,
): Promise<PluginRunResult> {
  const parsed = parsePluginOptions(request.parameter);
  if (hasErrors(parsed.diagnostics)) return failure(parsed.diagnostics, undefined, new Map());
  const configPath =
    parsed.options.config === undefined
      ? await findConfig(ctx.cwd)
      : path.resolve(ctx.cwd, parsed.options.config);
  if (configPath === undefined) {
    return failure(
      [
        {
          severity: "error",
          code: ProtoCodes.compile,
          message: `no svcgen.yaml in ${ctx.cwd}`,
          hint: "pass the plugin option config=path/to/svcgen.yaml (opt: [config=svcgen.yaml] in buf.gen.yaml)",
        },
      ],
      undefined,
      new Map(),
    );
  }
  const loaded = await loadConfig(configPath, ctx.env);
  if (loaded.config === undefined) return failure(loaded.diagnostics, undefined, new Map());
  const config = loaded.config;
  const manifest = await readManifest(config);
  if ("diagnostic" in manifest) {
    return failure([...loaded.diagnostics, manifest.diagnostic], config, new Map());
  }

  const sourcePaths = new Map<string, string>();
  for (const root of config.proto?.roots ?? []) {
    let files: string[];
    try {
      files = await listProtoFiles(root);
    } catch {
      continue; // a missing root: buf has already resolved every file it sent
    }
    for (const rel of files)
      sourcePaths.set(rel, projectPath(config.rootDir, path.join(root, rel)));
  }
  let bindDiagnostics: readonly Diagnostic[] = [];
  const plugin = createSvcgenPlugin({
    model: manifest.model,
    sourcePaths,
    onDiagnostics: (d) => {
      bindDiagnostics = d;
    },
    ...(config.proto === undefined
      ? {}
      : {
          layout: {
            out: projectPath(config.rootDir, config.out),
            handlersDir: projectPath(config.rootDir, config.proto.handlersDir),
            errorDomain: config.errorDomain ?? path.basename(config.rootDir),
            migrations: config.schemaFiles.map((f) => projectPath(config.rootDir, f)),
            postgres: config.database.postgres,
          },
        }),
  });
  const response = plugin.run(request);
  const all = sortDiagnostics([...loaded.diagnostics, ...bindDiagnostics]);
  if (hasErrors(all)) return failure(all, config, new Map());
  const text = await formatAll(all, config, new Map());
  return { response, diagnostics: all, warnings: warningsOf(all, text) };
}

/** The Model of `<out>/svcgen-manifest.json`, or the diagnostic saying why there is none. */
async function readManifest(
  config: ResolvedConfig,
): Promise<{ model: Model } | { diagnostic: Diagnostic }> {
  const rel = `${projectPath(config.rootDir, config.out)}/${manifestName}`;
  let text: string;
  try {
    text = await readFile(path.join(config.out, manifestName), "utf8");
  } catch {
    return {
      diagnostic: {
        severity: "error",
        code: ProtoCodes.compile,
        message: `no manifest at ${rel}: the plugin binds RPCs to the queries svcgen generate recorded there`,
        hint: "run svcgen generate first (and commit the generated folder)",
      },
    };
  }
  try {
    return { model: parseManifest(text) };
  } catch (e) {
    return {
      diagnostic: {
        severity: "error",
        code: ProtoCodes.compile,
        message: `the manifest ${rel} is not valid: ${(e as Error).message}`,
        file: rel,
        hint: "run svcgen generate to write it again",
      },
    };
  }
}

/**
 * Writes the `.proto` files svcgen builds with but no package ships as source, under `dir`:
 * `svcgen/v1/options.proto` (svcgen's options) and `buf/validate/validate.proto` (the
 * declarations of the copy embedded in `@bufbuild/protovalidate`, as `svcgen generate`
 * prints it). List `dir` as a module in `buf.yaml` so `buf generate` resolves both offline
 * and the plugin's `options_pb.ts` and `validate_pb.ts` equal `svcgen generate`'s. Returns
 * the written paths, relative to `dir`.
 */
export async function writeProtoIncludes(dir: string): Promise<string[]> {
  const options = "svcgen/v1/options.proto";
  const validate = "buf/validate/validate.proto";
  await mkdir(path.join(dir, "svcgen", "v1"), { recursive: true });
  await mkdir(path.join(dir, "buf", "validate"), { recursive: true });
  await writeFile(
    path.join(dir, options),
    await readFile(path.join(svcgenProtoDir(), options), "utf8"),
  );
  await writeFile(path.join(dir, validate), printFileDescriptor(await loadValidateDescriptor()));
  return [validate, options];
}
