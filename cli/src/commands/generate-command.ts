/**
 * `svcgen generate`: analyse the project and write every output; `--check` writes nothing
 * and fails listing the files that would change.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { buildModel } from "../analyse/model-builder.js";
import type { ResolvedConfig } from "../config/config.js";
import { type Diagnostic, hasErrors } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import { countManifestQueries, manifestName } from "../manifest.js";
import type { Model } from "../model.js";
import type { AnalyseProjectOptions } from "../project.js";
import { projectPath } from "../project-paths.js";
import { version as svcgenVersion } from "../version.js";
import { inputsHash, recordRun, upToDate } from "./up-to-date.js";
import { type OwnedDir, type WriteReport, writeGeneratedFiles } from "./write-files.js";

/** The manifest's file name (one definition, in manifest.ts). */
export { manifestName };

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

/**
 * How many queries a manifest lists, read back on the up-to-date path. The manifest has one
 * query per line, so counting lines is enough; parsing the whole Model would cost more than
 * the rest of that path.
 */
async function manifestQueries(config: ResolvedConfig): Promise<number> {
  try {
    return countManifestQueries(await readFile(join(config.out, manifestName), "utf8"));
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
      model: buildModel({ queries: [] }),
      analysed: 0,
      cached: n,
    };
  }
  // Loaded on demand: the up-to-date path above needs neither the parser nor pg.
  const [{ readInputs }, { openSchemaSession }, { generate }] = await Promise.all([
    import("../read-inputs.js"),
    import("../project.js"),
    import("../generate.js"),
  ]);
  const inputs = await readInputs(config);
  const session = await openSchemaSession(config, inputs.migrations, inputs.diagnostics, opts);
  let output: Awaited<ReturnType<typeof generate>> | undefined;
  try {
    output = await generate(inputs, session, {
      ...(opts.parseMemo === undefined ? {} : { parseMemo: opts.parseMemo }),
      ...(opts.emitMemo === undefined ? {} : { emitMemo: opts.emitMemo }),
    });
  } finally {
    // The cache keeps what analysed cleanly, even when the proto stage then failed.
    await session.close(output === undefined || !output.queriesClean);
  }
  const counts = { analysed: session.analysed(), cached: session.cached() };
  const base = { diagnostics: output.diagnostics, sources: output.sources, model: output.model };
  if (hasErrors(output.diagnostics)) return { ...base, ...counts, report: undefined };
  const out = projectPath(config.rootDir, config.out);
  const diagnostics = [...output.diagnostics];
  const files = [...output.files];
  // Text artifacts through Handlebars templates, built-in or the project's overrides.
  const { emitTextArtifacts } = await import("../templates/text-artifacts.js");
  const text = await emitTextArtifacts(config, output.model, manifestName);
  diagnostics.push(...text.diagnostics);
  if (hasErrors(text.diagnostics)) return { ...base, ...counts, diagnostics, report: undefined };
  files.push(...text.files);
  // Deployment files (`deploy:`), about the Model's services.
  if (config.deploy !== undefined) {
    const { emitDeployArtifacts } = await import("../templates/deploy-artifacts.js");
    const { deployServices } = await import("../templates/deploy-view.js");
    const deploy = await emitDeployArtifacts(config, deployServices(output.model));
    diagnostics.push(...deploy.diagnostics);
    if (hasErrors(deploy.diagnostics))
      return { ...base, ...counts, diagnostics, report: undefined };
    files.push(...deploy.files);
  }
  // Folders whose stale generated files go (a removed query file or service, a deployment
  // file kind turned off); the deployment files only while `deploy:` says where they are.
  const owned: OwnedDir[] = [`${out}/db`, `${out}/grpc`, `${out}/proto`, `${out}/server`];
  if (config.deploy !== undefined) {
    const { workflowPath } = await import("../templates/deploy-artifacts.js");
    owned.push({ dir: projectPath(config.rootDir, config.deploy.dir), generated: isDeployFile });
    owned.push({
      dir: workflowPath.slice(0, workflowPath.lastIndexOf("/")),
      generated: (rel, text) => rel === workflowPath && isDeployFile(rel, text),
    });
  }
  const report = await writeGeneratedFiles(
    config.rootDir,
    files,
    owned,
    opts.check === true,
    opts.writeMemo,
  );
  // Handler skeletons are the user's once created: written only when new or gaining a stub,
  // never deleted, and not part of the up-to-date record (the user edits them).
  const handlers = await writeGeneratedFiles(
    config.rootDir,
    [...output.handlerFiles],
    [],
    opts.check === true,
  );
  const merged: WriteReport = {
    written: [...report.written, ...handlers.written].sort(),
    deleted: report.deleted,
    unchanged: report.unchanged,
  };
  if (useRecord && opts.check !== true) {
    await recordRun(config, hash, files, [...output.handlerPaths]);
  }
  return { ...base, ...counts, diagnostics, report: merged };
}

/**
 * A deployment file svcgen wrote: its first three lines say "Generated by svcgen" (every
 * built-in template's header does: a comment, or `__comment` in a dashboard's JSON). A file
 * without it (the user's own, or an override that drops the header) is never deleted.
 */
function isDeployFile(_relPath: string, text: string): boolean {
  return text.split("\n", 3).some((line) => line.includes("Generated by svcgen"));
}
