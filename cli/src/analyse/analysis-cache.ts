/**
 * The analysis cache: one entry per query, keyed by a hash of everything its analysis depends
 * on (svcgen's version, the schema's migrations, the type options, the SQL text). An unchanged
 * project is generated without starting or contacting any database, and a changed query file
 * re-analyses only its changed queries.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SourceFile } from "../inputs.js";
import type { ConstraintModel, QueryModel } from "../model.js";

/** Bump when analysis output changes for the same inputs, to invalidate old caches. */
export const analysisVersion = "svcgen-analysis-4";

/** The part of a cached query that depends only on its key (not on its name or place). */
export type CachedAnalysis = Pick<QueryModel, "params" | "columns" | "copyFrom" | "readOnly">;

interface CacheFile {
  readonly version: string;
  readonly entries: Record<string, CachedAnalysis>;
  /** The schema's constraints by schema hash (they depend on the migrations only). */
  readonly constraints?: Record<string, readonly ConstraintModel[]>;
}

/** Hash of the schema inputs: migration paths and contents, in order. */
export function schemaHash(migrations: readonly SourceFile[], extra: string): string {
  const h = createHash("sha256");
  h.update(analysisVersion);
  h.update(extra);
  for (const m of migrations) {
    h.update(`\0${m.path}\0${m.text}`);
  }
  return h.digest("hex");
}

/** The key of one query's analysis. */
export function queryKey(schema: string, command: string, sql: string): string {
  return createHash("sha256").update(`${schema}\0${command}\0${sql}`).digest("hex").slice(0, 32);
}

/** The cache of one project, loaded from and saved to `<dir>/analysis.json`. */
export class AnalysisCache {
  readonly #dir: string;
  #entries: Map<string, CachedAnalysis>;
  readonly #used = new Set<string>();
  readonly #constraints: Map<string, readonly ConstraintModel[]>;
  readonly #usedConstraints = new Set<string>();

  private constructor(
    dir: string,
    entries: Map<string, CachedAnalysis>,
    constraints: Map<string, readonly ConstraintModel[]> = new Map(),
  ) {
    this.#dir = dir;
    this.#entries = entries;
    this.#constraints = constraints;
  }

  /** Loads the cache in `dir`; a missing, unreadable or outdated file gives an empty cache. */
  static async load(dir: string): Promise<AnalysisCache> {
    try {
      const data = JSON.parse(await readFile(join(dir, "analysis.json"), "utf8")) as CacheFile;
      if (data.version === analysisVersion && typeof data.entries === "object") {
        return new AnalysisCache(
          dir,
          new Map(Object.entries(data.entries)),
          new Map(Object.entries(data.constraints ?? {})),
        );
      }
    } catch {
      // no cache yet, or a damaged one: start empty
    }
    return new AnalysisCache(dir, new Map());
  }

  /** The cached analysis for `key`, marking it as still in use. */
  get(key: string): CachedAnalysis | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined) this.#used.add(key);
    return e;
  }

  /** Stores an analysis. */
  set(key: string, value: CachedAnalysis): void {
    this.#entries.set(key, value);
    this.#used.add(key);
  }

  /** The cached constraints of the schema with hash `schema`. */
  getConstraints(schema: string): readonly ConstraintModel[] | undefined {
    const c = this.#constraints.get(schema);
    if (c !== undefined) this.#usedConstraints.add(schema);
    return c;
  }

  /** Stores the constraints of the schema with hash `schema`. */
  setConstraints(schema: string, constraints: readonly ConstraintModel[]): void {
    this.#constraints.set(schema, constraints);
    this.#usedConstraints.add(schema);
  }

  /**
   * Writes the cache atomically, keeping only the entries used in this run so it does not
   * grow without bound.
   */
  async save(): Promise<void> {
    const entries: Record<string, CachedAnalysis> = {};
    for (const k of [...this.#used].sort()) {
      const v = this.#entries.get(k);
      if (v !== undefined) entries[k] = v;
    }
    const constraints: Record<string, readonly ConstraintModel[]> = {};
    for (const k of [...this.#usedConstraints].sort()) {
      const v = this.#constraints.get(k);
      if (v !== undefined) constraints[k] = v;
    }
    await mkdir(this.#dir, { recursive: true });
    const file = join(this.#dir, "analysis.json");
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(
      tmp,
      JSON.stringify({ version: analysisVersion, entries, constraints } satisfies CacheFile),
    );
    await rename(tmp, file);
  }
}
