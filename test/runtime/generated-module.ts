/**
 * Generates query modules from a Model into a temporary folder inside the repository (so the
 * runtime and `pg` resolve) and imports them, for tests that run generated code for real.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildModel, type ModelParts } from "../../cli/src/analyse/model-builder.js";
import {
  emitQueryModules,
  type QueryEmitOptions,
} from "../../cli/src/emit/query-module-emitter.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** A generated function as the tests call it. */
export type GeneratedFn = (...args: unknown[]) => Promise<unknown>;

/** The generated modules of one test file; `remove()` deletes them. */
export interface GeneratedModules {
  /** The exports of `<out>/db/index.ts`. */
  readonly exports: Readonly<Record<string, unknown>>;
  /** A generated query function by name. */
  fn(name: string): GeneratedFn;
  remove(): void;
}

/**
 * Emits `model`, writes the files under `test/runtime/gen/<random>/` and imports the index.
 * Generated code imports the runtime from its source (`runtime/src/index.ts`), the same
 * module instance the test imports, so `configureRuntime` in a test reaches generated code.
 */
export async function generateAndImport(
  model: ModelParts,
  options: Omit<QueryEmitOptions, "out" | "runtimeModule"> = {},
): Promise<GeneratedModules> {
  const out = `test/runtime/gen/rt_${randomBytes(4).toString("hex")}`;
  const files = emitQueryModules(buildModel(model), {
    ...options,
    out,
    runtimeModule: "@svcgen/runtime",
  });
  for (const f of files) {
    const abs = join(repoRoot, f.path);
    const runtimeSrc = relative(dirname(abs), join(repoRoot, "runtime/src/index.js"));
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, f.content.replaceAll('"@svcgen/runtime"', JSON.stringify(runtimeSrc)));
  }
  const exports = (await import(join(repoRoot, out, "db/index.ts"))) as Record<string, unknown>;
  return {
    exports,
    fn(name) {
      const f = exports[name];
      if (typeof f !== "function") throw new Error(`generated module has no function ${name}`);
      return f as GeneratedFn;
    },
    remove() {
      rmSync(join(repoRoot, out), { recursive: true, force: true });
    },
  };
}
