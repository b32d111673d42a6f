/**
 * `svcgen watch`: regenerates on every change to migrations, queries, protos or the config,
 * reports errors with their locations and keeps running. The schema server stays up for the
 * whole session (see SchemaHost); unchanged queries come from the analysis cache, so a changed
 * query file costs only its changed queries; files are written atomically and only when their
 * content changes (write-files.ts).
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { AnalysisCache } from "../analyse/analysis-cache.js";
import type { ResolvedConfig } from "../config/config.js";
import { loadConfig } from "../config/load-config.js";
import { type Diagnostic, formatDiagnostic, hasErrors, sortDiagnostics } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import type { ParsedQueryFile } from "../parse/query-file-parser.js";
import { projectPath } from "../project-paths.js";
import { SchemaHost } from "../watch/schema-host.js";
import {
  type ChangeKind,
  classifyChange,
  isInFolder,
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
  await new WatchSession(opts).run();
}

/**
 * Where a session is. `idle`: waiting for changes (a debounce timer may be counting down);
 * `running`: a run is in progress; `rerun-queued`: a run is in progress and changes arrived
 * (after their debounce), so another run follows at once; `stopping`: the signal aborted, the
 * current run finishes and nothing new starts.
 */
export type WatchPhase = "idle" | "running" | "rerun-queued" | "stopping";

/**
 * Everything a run reuses from earlier runs, dropped together when the config changes (the
 * cache folder or the output may have moved). An edit re-parses only its file, reads no cache
 * from disk, re-emits and compares only its own module. Generated files are svcgen's: edits
 * to them during a watch are not noticed until the next change to their inputs.
 */
interface RunMemo {
  readonly parse: Map<string, ParsedQueryFile>;
  analysisCache: AnalysisCache | undefined;
  readonly emit: Map<string, { readonly key: string; readonly file: GeneratedFile }>;
  readonly write: Map<string, string>;
}

function emptyMemo(): RunMemo {
  return { parse: new Map(), analysisCache: undefined, emit: new Map(), write: new Map() };
}

/** One `svcgen watch` session: the state machine of {@link WatchPhase} and what runs share. */
class WatchSession {
  readonly #opts: WatchOptions;
  readonly #debounceMs: number;
  readonly #host: SchemaHost;
  #phase: WatchPhase = "idle";
  /** The run loop while a run is in progress. */
  #current: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  // What is watched, from the config as last loaded.
  #config: ResolvedConfig | undefined;
  #paths: WatchPaths | undefined;
  #watchers: FSWatcher[] = [];
  /** Files added or removed, or the config changed: the next run reloads the config. */
  #structural = true;

  // Changes and their outcome.
  readonly #pending = new Set<string>();
  /** The content of each changed input as the latest run used it. */
  readonly #lastSeen = new Map<string, string | undefined>();
  #first = true;
  #hadErrors = false;
  #memo: RunMemo = emptyMemo();

  constructor(opts: WatchOptions) {
    this.#opts = opts;
    this.#debounceMs = opts.debounceMs ?? 20;
    this.#host = new SchemaHost((m) => opts.log(m));
  }

  /** Runs at once, then on changes, until the signal aborts; then releases everything. */
  async run(): Promise<void> {
    const { signal } = this.#opts;
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    this.#startRun();
    await stopped;
    this.#phase = "stopping";
    clearTimeout(this.#timer);
    // Let the current run finish, so nothing is half-written and the host is idle.
    while (this.#current !== undefined) await this.#current;
    await Promise.all(this.#watchers.map((w) => w.close()));
    // Saved once at the end rather than after every run: the next `svcgen generate` starts warm.
    await this.#memo.analysisCache?.save().catch(() => {});
    await this.#host.close();
  }

  /** idle -> running, or running -> rerun-queued. */
  #startRun(): void {
    if (this.#phase === "stopping") return;
    if (this.#phase === "running" || this.#phase === "rerun-queued") {
      this.#phase = "rerun-queued";
      return;
    }
    this.#phase = "running";
    this.#current = this.#runLoop();
  }

  async #runLoop(): Promise<void> {
    try {
      for (;;) {
        try {
          await this.#runOnce();
        } catch (e) {
          // A bug, not a user error: say so and keep watching.
          this.#opts.report(`internal error: ${(e as Error).stack ?? String(e)}\n`);
        }
        if (this.#phase !== "rerun-queued") break;
        this.#phase = "running";
      }
    } finally {
      if (this.#phase !== "stopping") this.#phase = "idle";
      this.#current = undefined;
    }
  }

  /** A change: remembered, and a run starts once changes have been quiet for the debounce. */
  #onEvent(event: string, path: string): void {
    const { configPath } = this.#opts;
    const template =
      this.#config?.templates !== undefined && isInFolder(path, this.#config.templates.dir);
    // Editors' temporary and backup files (`.x.sql.swp`, `x.sql~`, sed's `sedXXXX`) are noise.
    if (path !== configPath && !path.endsWith(".sql") && !path.endsWith(".proto") && !template) {
      return;
    }
    this.#pending.add(path);
    if (event !== "change" || path === configPath) this.#structural = true;
    if (this.#phase === "stopping") return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#startRun(), this.#debounceMs);
  }

  async #rewatch(): Promise<void> {
    const next = this.#config === undefined ? undefined : await watchPaths(this.#config);
    const same =
      next !== undefined &&
      this.#paths !== undefined &&
      JSON.stringify(next) === JSON.stringify(this.#paths);
    if (same && this.#watchers.length > 0) return;
    await Promise.all(this.#watchers.map((w) => w.close()));
    this.#watchers = [];
    const paths = next ?? { config: this.#opts.configPath, sql: [], proto: [] };
    this.#paths = paths;
    const shallow = [paths.config, ...paths.sql, ...(paths.templates ? [paths.templates] : [])];
    const started: FSWatcher[] = [watch(shallow, { ignoreInitial: true, depth: 0 })];
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
      w.on("all", (event, path) => this.#onEvent(event, path));
      w.on("error", (e) => this.#opts.report(`watch error: ${(e as Error).message}\n`));
    }
    await Promise.all(started.map((w) => new Promise<void>((r) => w.once("ready", () => r()))));
    this.#watchers = started;
  }

  #rel(abs: string): string {
    const root = this.#config?.rootDir ?? dirname(this.#opts.configPath);
    return projectPath(root, abs);
  }

  async #runOnce(): Promise<void> {
    const t0 = performance.now();
    const changed = [...this.#pending].sort();
    this.#pending.clear();
    // The changed files' contents as this run starts (see the recheck below); for query
    // files and migrations, replaced by the text the run actually analysed.
    for (const path of changed) this.#lastSeen.set(path, await contentOf(path));
    try {
      const used = await this.#generate(t0, changed);
      for (const path of changed) {
        const text = used?.get(this.#rel(path));
        if (text !== undefined) this.#lastSeen.set(path, text);
      }
    } finally {
      // chokidar drops a second `change` of a file within its 50 ms throttle window, and a
      // save can be seen half-way (truncated, then written). So the files of this run are
      // read again once that window has passed; one whose content differs is run again.
      const recheck = setTimeout(async () => {
        for (const path of changed) {
          // Compared with what the latest run saw: a later run may have handled it already.
          const now = await contentOf(path);
          if (now !== this.#lastSeen.get(path) && !this.#opts.signal.aborted) {
            this.#onEvent("change", path);
          }
        }
      }, 60);
      recheck.unref();
    }
  }

  /**
   * Reloads the config when files came or went or it changed itself; returns the config
   * diagnostics worth showing. Config warnings are shown when the config is read for the
   * first time or edited, not again on every added file.
   */
  async #reloadConfig(changed: readonly string[]): Promise<Diagnostic[]> {
    if (!this.#structural && this.#config !== undefined) return [];
    this.#structural = false;
    const { configPath } = this.#opts;
    const loaded = await loadConfig(configPath, this.#opts.env);
    this.#config = loaded.config;
    if (changed.includes(configPath)) {
      await this.#memo.analysisCache?.save().catch(() => {});
      this.#memo = emptyMemo();
    }
    await this.#rewatch();
    const show = this.#first || changed.includes(configPath) || hasErrors(loaded.diagnostics);
    return show ? loaded.diagnostics : [];
  }

  /** One run; returns the input texts it used (by project-relative path) when it got that far. */
  async #generate(t0: number, changed: string[]): Promise<ReadonlyMap<string, string> | undefined> {
    const before = this.#config;
    const configDiagnostics = await this.#reloadConfig(changed);
    const config = this.#config;
    const kinds = [...new Set(changed.map((p) => classifyChange([before, config], p)))].sort();
    const label = this.#first
      ? "initial run"
      : changed.length === 1
        ? `${this.#rel(changed[0] ?? "")} changed`
        : `${changed.length} files changed`;
    this.#first = false;
    if (config === undefined) {
      printDiagnostics(this.#opts, configDiagnostics, new Map());
      this.#hadErrors = true;
      this.#opts.log(`${label}: the config has errors; waiting for a fix`);
      return undefined;
    }
    const host = this.#host;
    host.migrationsApplied = false;
    const memo = this.#memo;
    memo.analysisCache ??= await AnalysisCache.load(config.cacheDir);
    const r = await runGenerate(config, {
      parseMemo: memo.parse,
      analysisCache: memo.analysisCache,
      saveCache: false,
      record: false,
      emitMemo: memo.emit,
      writeMemo: memo.write,
      openSchema: (c, m) => host.open(c, m),
      onProgress: (m) => this.#opts.log(m),
    });
    const all = [...configDiagnostics, ...r.diagnostics];
    printDiagnostics(this.#opts, all, r.sources);
    const errors = all.filter((d) => d.severity === "error").length;
    const run: WatchRun = {
      changed: changed.map((p) => this.#rel(p)),
      kinds,
      analysed: r.analysed,
      queries: r.model.queries.length,
      written: r.report?.written ?? [],
      deleted: r.report?.deleted ?? [],
      errors,
      warnings: all.length - errors,
      migrationsApplied: host.migrationsApplied,
      ms: Math.round(performance.now() - t0),
    };
    this.#opts.log(`${label}: ${summarise(run, this.#hadErrors)}`);
    this.#hadErrors = errors > 0;
    this.#opts.onRun?.(run);
    return r.sources;
  }
}

/** The log line of a run after its label, e.g. `1 of 3 queries re-analysed, 1 file written (38 ms)`. */
export function summarise(run: WatchRun, hadErrors: boolean): string {
  const parts = [
    `${run.analysed} of ${run.queries} quer${run.queries === 1 ? "y" : "ies"} re-analysed`,
  ];
  if (run.migrationsApplied) parts.unshift("migrations applied");
  if (run.errors > 0) {
    parts.push(`${run.errors} error${run.errors === 1 ? "" : "s"}, nothing written`);
  } else {
    parts.push(
      `${run.written.length} file${run.written.length === 1 ? "" : "s"} written` +
        (run.deleted.length > 0 ? `, ${run.deleted.length} deleted` : ""),
    );
    if (hadErrors) parts.push("errors cleared");
  }
  if (run.warnings > 0) parts.push(`${run.warnings} warning${run.warnings === 1 ? "" : "s"}`);
  return `${parts.join(", ")} (${run.ms} ms)`;
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
