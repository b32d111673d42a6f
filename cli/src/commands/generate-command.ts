/**
 * `svcgen generate`: analyse the project and write every output; `--check` writes nothing
 * and fails listing the files that would change.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/config.js";
import { type Diagnostic, hasErrors } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import { type Model, type PublicQuery, toPublicModel } from "../model.js";
import type { AnalyseProjectOptions } from "../project.js";
import type { ServiceSource } from "../templates/deploy-view.js";
import { version as svcgenVersion } from "../version.js";
import { inputsHash, recordRun, upToDate } from "./up-to-date.js";
import { projectPath, type WriteReport, writeGeneratedFiles } from "./write-files.js";

/** The manifest `svcgen check` compares a live database with, next to the generated code. */
export const manifestName = "svcgen-manifest.json";

/** Options of {@link runGenerate}. */
export interface GenerateOptions extends AnalyseProjectOptions {
  /** Write nothing; report what would change. */
  readonly check?: boolean;
  /**
   * Use and keep the up-to-date record (skip everything when nothing changed). Default true;
   * `watch` runs only on changes and keeps its own state instead.
   */
  readonly record?: boolean;
  /** Emitted query modules to reuse across runs (`watch`). */
  readonly emitMemo?: Map<string, { readonly key: string; readonly file: GeneratedFile }>;
  /** What the output files held after the last run (`watch`), to skip reading them again. */
  readonly writeMemo?: Map<string, string>;
}

/** How many queries a manifest lists, read back on the up-to-date path. */
async function manifestQueries(config: ResolvedConfig): Promise<number> {
  try {
    const m = JSON.parse(await readFile(join(config.out, manifestName), "utf8")) as {
      queries?: PublicQuery[];
    };
    return m.queries?.length ?? 0;
  } catch {
    return 0;
  }
}

/** What a generate run did. */
export interface GenerateResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  /** Undefined when errors stopped the run before writing. */
  readonly report: WriteReport | undefined;
  readonly model: Model;
  readonly analysed: number;
  readonly cached: number;
}

/**
 * Everything `generate` writes for a Model, relative to the project folder, sorted by path.
 * Deterministic: the same Model and config give the same bytes.
 */
export async function emitProject(
  config: ResolvedConfig,
  model: Model,
  memo?: GenerateOptions["emitMemo"],
): Promise<GeneratedFile[]> {
  // Loaded on demand, like the analyser: templates are compiled only when emitting.
  const { emitQueryModules } = await import("../emit/query-module-emitter.js");
  const out = projectPath(config.rootDir, config.out);
  const files = emitQueryModules(model, {
    out,
    int8: config.int8,
    date: config.date,
    preparedStatements: config.preparedStatements,
    memo,
  });
  files.push({
    path: `${out}/${manifestName}`,
    content: `${JSON.stringify(toPublicModel(model), null, 2)}\n`,
  });
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Runs generate (or generate --check) for a loaded config. */
export async function runGenerate(
  config: ResolvedConfig,
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  // Nothing changed since the last successful run: no parsing, no database, no emitting.
  const useRecord = opts.record !== false && opts.cache !== false && !config.database.useLiveSchema;
  const hash = useRecord ? await inputsHash(config, svcgenVersion) : "";
  const recorded = useRecord ? await upToDate(config, hash) : undefined;
  if (recorded !== undefined) {
    const n = await manifestQueries(config);
    return {
      diagnostics: [],
      sources: new Map(),
      report: { written: [], deleted: [], unchanged: recorded.length },
      model: { queries: [] },
      analysed: 0,
      cached: n,
    };
  }
  // Loaded on demand: the up-to-date path above needs neither the parser nor pg.
  const { analyseProject } = await import("../project.js");
  const analysis = await analyseProject(config, opts);
  if (hasErrors(analysis.diagnostics)) {
    return { ...analysis, report: undefined };
  }
  const files = await emitProject(config, analysis.model, opts.emitMemo);
  const out = projectPath(config.rootDir, config.out);
  const diagnostics = [...analysis.diagnostics];
  // Text artifacts through Handlebars templates, built-in or the project's overrides.
  const { emitTextArtifacts } = await import("../templates/text-artifacts.js");
  const text = await emitTextArtifacts(config, analysis.model, manifestName);
  diagnostics.push(...text.diagnostics);
  if (hasErrors(text.diagnostics)) return { ...analysis, diagnostics, report: undefined };
  files.push(...text.files);
  // Proto messages, gRPC service code and handler skeletons, when the project has protos.
  let handlerFiles: GeneratedFile[] = [];
  let handlerPaths: string[] = [];
  let services: readonly ServiceSource[] = [];
  if (config.proto !== undefined) {
    const { generateProto } = await import("../proto/generate-proto.js");
    const proto = await generateProto(config, analysis.model);
    diagnostics.push(...proto.diagnostics);
    if (hasErrors(proto.diagnostics)) return { ...analysis, diagnostics, report: undefined };
    files.push(...proto.files);
    handlerFiles = proto.handlerFiles;
    handlerPaths = proto.handlerPaths;
    services = proto.services;
  }
  // Deployment files (`deploy:`), about the services the proto stage found.
  if (config.deploy !== undefined) {
    const { emitDeployArtifacts } = await import("../templates/deploy-artifacts.js");
    const { deployServices } = await import("../templates/deploy-view.js");
    const deploy = await emitDeployArtifacts(config, deployServices(services));
    diagnostics.push(...deploy.diagnostics);
    if (hasErrors(deploy.diagnostics)) return { ...analysis, diagnostics, report: undefined };
    files.push(...deploy.files);
  }
  const report = await writeGeneratedFiles(
    config.rootDir,
    files,
    [`${out}/db`, `${out}/grpc`, `${out}/proto`],
    opts.check === true,
    opts.writeMemo,
  );
  // Handler skeletons are the user's once created: written only when new or gaining a stub,
  // never deleted, and not part of the up-to-date record (the user edits them).
  const handlers = await writeGeneratedFiles(config.rootDir, handlerFiles, [], opts.check === true);
  const merged: WriteReport = {
    written: [...report.written, ...handlers.written].sort(),
    deleted: report.deleted,
    unchanged: report.unchanged,
  };
  if (useRecord && opts.check !== true && !hasErrors(diagnostics)) {
    await recordRun(config, hash, files, handlerPaths);
  }
  return { ...analysis, diagnostics, report: merged };
}
