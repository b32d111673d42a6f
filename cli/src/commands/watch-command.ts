/**
 * `svcgen watch`: regenerates on every change to migrations, queries, protos or the config,
 * reports errors with their locations and keeps running. The schema server stays up for the
 * whole session (see SchemaHost); unchanged queries come from the analysis cache, so a changed
 * query file costs only its changed queries; files are written atomically and only when their
 * content changes (write-files.ts).
 */
import { readFile } from "node:fs/promises";
import { relative, sep } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { AnalysisCache } from "../analyse/analysis-cache.js";
import type { ResolvedConfig } from "../config/config.js";
import { loadConfig } from "../config/load-config.js";
import { type Diagnostic, formatDiagnostic, hasErrors, sortDiagnostics } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import type { ParsedQueryFile } from "../parse/query-file-parser.js";
import { SchemaHost } from "../watch/schema-host.js";
import {
  type ChangeKind,
  classifyChange,
  type WatchPaths,
  watchPaths,
} from "../watch/watch-paths.js";
import { runGenerate } from "./generate-command.js";

/** Options of {@link runWatch}. */
export interface WatchOptions {
  /** The config file, absolute. */
  readonly configPath: string;
  /** Environment for `${VAR}` in the config. */
  readonly env: NodeJS.ProcessEnv;
  /** One line per run and status lines (no newline at the end). */
  readonly log: (line: string) => void;
  /** Diagnostics, formatted with source frames (ends with a newline). */
  readonly report: (text: string) => void;
  /** Stops the watcher: the current run finishes, then everything is released. */
  readonly signal: AbortSignal;
  /** Quiet time after the last change before a run starts. Default 20 ms: long enough to merge the burst of saves of an editor's "save all". */
  readonly debounceMs?: number;
  /** Called after each run, for tests and benchmarks. */
  readonly onRun?: (run: WatchRun) => void;
}

/** What one run did. */
export interface WatchRun {
  /** Changed files, relative to the project folder; empty for the first run. */
  readonly changed: readonly string[];
  /** What kinds of input changed. */
  readonly kinds: readonly ChangeKind[];
  /** Queries analysed against the database in this run (the rest came from the cache). */
  readonly analysed: number;
  readonly queries: number;
  /** Files written and deleted, relative to the project folder. */
  readonly written: readonly string[];
  readonly deleted: readonly string[];
  readonly errors: number;
  readonly warnings: number;
  /** Whether the migrations were applied to a fresh scratch database in this run. */
  readonly migrationsApplied: boolean;
  readonly ms: number;
}

/**
 * Watches until `signal` aborts. The first run happens at once; later runs follow changes,
 * one at a time (changes during a run start another run after it). Resolves after the
 * watchers are closed, the scratch database dropped and the embedded server stopped.
 */
export async function runWatch(opts: WatchOptions): Promise<void> {
  const debounceMs = opts.debounceMs ?? 20;
  const host = new SchemaHost((m) => opts.log(m));
  let config: ResolvedConfig | undefined;
  let paths: WatchPaths | undefined;
  let watchers: FSWatcher[] = [];
  const pending = new Set<string>();
  let structural = true; // files added or removed, or the config changed: reload the config
  let hadErrors = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let first = true;
  // Kept across runs: an edit re-parses only its file and reads no cache from disk. Both are
  // dropped when the config is reloaded (the cache folder may have moved).
  let parseMemo = new Map<string, ParsedQueryFile>();
  let analysisCache: AnalysisCache | undefined;
  // Emitted modules and the generated files' contents, so a one-query edit re-emits and
  // compares only its own module. Generated files are svcgen's: edits to them during a watch
  // are not noticed until the next change to their inputs (or the next `svcgen generate`).
  let emitMemo = new Map<string, { readonly key: string; readonly file: GeneratedFile }>();
  let writeMemo = new Map<string, string>();
  // The content of each changed input as the latest run used it.
  const lastSeen = new Map<string, string | undefined>();

  const rel = (abs: string): string =>
    relative(config?.rootDir ?? opts.configPath.slice(0, opts.configPath.lastIndexOf(sep)), abs)
      .split(sep)
      .join("/");

  const schedule = (): void => {
    if (opts.signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (running !== undefined) {
        again = true;
        return;
      }
      running = runLoop();
    }, debounceMs);
  };

  const onEvent = (event: string, path: string): void => {
    // Editors' temporary and backup files (`.x.sql.swp`, `x.sql~`, sed's `sedXXXX`) are noise.
    if (path !== opts.configPath && !path.endsWith(".sql") && !path.endsWith(".proto")) return;
    pending.add(path);
    if (event !== "change" || path === opts.configPath) structural = true;
    schedule();
  };

  const rewatch = async (): Promise<void> => {
    const next = config === undefined ? undefined : await watchPaths(config);
    const same =
      next !== undefined && paths !== undefined && JSON.stringify(next) === JSON.stringify(paths);
    if (same && watchers.length > 0) return;
    await Promise.all(watchers.map((w) => w.close()));
    watchers = [];
    paths = next ?? { config: opts.configPath, sql: [], proto: [] };
    const started: FSWatcher[] = [];
    started.push(watch([paths.config, ...paths.sql], { ignoreInitial: true, depth: 0 }));
    if (paths.proto.length > 0) {
      started.push(
        watch([...paths.proto], {
          ignoreInitial: true,
          // Directories must pass to be descended into; of files, only .proto matters.
          ignored: (p, stats) => stats?.isFile() === true && !p.endsWith(".proto"),
        }),
      );
    }
    for (const w of started) {
      w.on("all", (event, path) => onEvent(event, path));
      w.on("error", (e) => opts.report(`watch error: ${(e as Error).message}\n`));
    }
    await Promise.all(started.map((w) => new Promise<void>((r) => w.once("ready", () => r()))));
    watchers = started;
  };

  const runOnce = async (): Promise<void> => {
    const t0 = performance.now();
    const changed = [...pending].sort();
    pending.clear();
    // The changed files' contents as this run starts (see the recheck below); for query
    // files and migrations, replaced by the text the run actually analysed.
    for (const path of changed) lastSeen.set(path, await contentOf(path));
    try {
      const used = await runChanged(t0, changed);
      for (const path of changed) {
        const text = used?.get(rel(path));
        if (text !== undefined) lastSeen.set(path, text);
      }
    } finally {
      // chokidar drops a second `change` of a file within its 50 ms throttle window, and a
      // save can be seen half-way (truncated, then written). So the files of this run are
      // read again once that window has passed; one whose content differs is run again.
      const recheck = setTimeout(async () => {
        for (const path of changed) {
          // Compared with what the latest run saw: a later run may have handled it already.
          const now = await contentOf(path);
          if (now !== lastSeen.get(path) && !opts.signal.aborted) onEvent("change", path);
        }
      }, 60);
      recheck.unref();
    }
  };

  /** One run; returns the input texts it used (by project-relative path) when it got that far. */
  const runChanged = async (
    t0: number,
    changed: string[],
  ): Promise<ReadonlyMap<string, string> | undefined> => {
    const before = config;
    let configDiagnostics: Diagnostic[] = [];
    if (structural || config === undefined) {
      structural = false;
      const loaded = await loadConfig(opts.configPath, opts.env);
      // Config warnings are shown when the config is read for the first time or edited, not
      // again on every added file.
      if (first || changed.includes(opts.configPath) || hasErrors(loaded.diagnostics)) {
        configDiagnostics = loaded.diagnostics;
      }
      config = loaded.config;
      if (changed.includes(opts.configPath)) {
        parseMemo = new Map();
        await analysisCache?.save().catch(() => {});
        analysisCache = undefined;
        emitMemo = new Map();
        writeMemo = new Map();
      }
      await rewatch();
    }
    const kinds = [...new Set(changed.map((p) => classifyChange([before, config], p)))].sort();
    const label = first
      ? "initial run"
      : changed.length === 1
        ? `${rel(changed[0] ?? "")} changed`
        : `${changed.length} files changed`;
    first = false;
    if (config === undefined) {
      printDiagnostics(opts, configDiagnostics, new Map());
      hadErrors = true;
      opts.log(`${label}: the config has errors; waiting for a fix`);
      return undefined;
    }
    host.migrationsApplied = false;
    analysisCache ??= await AnalysisCache.load(config.cacheDir);
    const r = await runGenerate(config, {
      parseMemo,
      analysisCache,
      saveCache: false,
      record: false,
      emitMemo,
      writeMemo,
      openSchema: (c, m) => host.open(c, m),
      onProgress: (m) => opts.log(m),
    });
    const all = [...configDiagnostics, ...r.diagnostics];
    printDiagnostics(opts, all, r.sources);
    const errors = all.filter((d) => d.severity === "error").length;
    const warnings = all.length - errors;
    const ms = Math.round(performance.now() - t0);
    const run: WatchRun = {
      changed: changed.map(rel),
      kinds,
      analysed: r.analysed,
      queries: r.model.queries.length,
      written: r.report?.written ?? [],
      deleted: r.report?.deleted ?? [],
      errors,
      warnings,
      migrationsApplied: host.migrationsApplied,
      ms,
    };
    const parts = [
      `${run.analysed} of ${run.queries} quer${run.queries === 1 ? "y" : "ies"} re-analysed`,
    ];
    if (run.migrationsApplied) parts.unshift("migrations applied");
    if (hasErrors(all)) parts.push(`${errors} error${errors === 1 ? "" : "s"}, nothing written`);
    else {
      parts.push(
        `${run.written.length} file${run.written.length === 1 ? "" : "s"} written` +
          (run.deleted.length > 0 ? `, ${run.deleted.length} deleted` : ""),
      );
      if (hadErrors) parts.push("errors cleared");
    }
    if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
    opts.log(`${label}: ${parts.join(", ")} (${ms} ms)`);
    hadErrors = hasErrors(all);
    opts.onRun?.(run);
    return r.sources;
  };

  const runLoop = async (): Promise<void> => {
    try {
      do {
        again = false;
        try {
          await runOnce();
        } catch (e) {
          // A bug, not a user error: say so and keep watching.
          opts.report(`internal error: ${(e as Error).stack ?? String(e)}\n`);
        }
      } while (again && !opts.signal.aborted);
    } finally {
      running = undefined;
    }
  };

  const stopped = new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    else opts.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  running = runLoop();
  await stopped;
  clearTimeout(timer);
  // Let the current run finish, so nothing is half-written and the host is idle.
  while (running !== undefined) await running;
  await Promise.all(watchers.map((w) => w.close()));
  // Saved once at the end rather than after every run: the next `svcgen generate` starts warm.
  await analysisCache?.save().catch(() => {});
  await host.close();
}

async function contentOf(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

function printDiagnostics(
  opts: WatchOptions,
  list: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
): void {
  for (const d of sortDiagnostics(list)) {
    opts.report(`${formatDiagnostic(d, d.file === undefined ? undefined : sources.get(d.file))}\n`);
  }
}
