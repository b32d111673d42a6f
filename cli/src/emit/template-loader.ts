/**
 * Loads the Handlebars templates of generated files. Templates only lay out text: every
 * decision is made in TypeScript view-models before rendering.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// handlebars is CommonJS with `export =`; without esModuleInterop, require is the typed way in.
const Handlebars = createRequire(import.meta.url)("handlebars") as typeof import("handlebars");

/** A compiled template: view-model in, text out. */
export type RenderTemplate<View> = (view: View) => string;

/**
 * The repository's (or installed package's) `templates/` folder. Found by walking up from
 * this module, so it works from `cli/src/emit/` under vitest and from `cli/dist/emit/`.
 */
export function defaultTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "templates");
    if (existsSync(join(candidate, "db"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`svcgen templates folder not found above ${fileURLToPath(import.meta.url)}`);
}

// One Handlebars environment of our own: user code registering global helpers cannot change output.
const handlebars = Handlebars.create();
const cache = new Map<string, RenderTemplate<never>>();

/**
 * Compiles `<templatesDir>/<name>` once per process. Templates run with `noEscape` (this is
 * code, not HTML) and `strict` (a misspelt view-model field fails loudly, never renders empty).
 */
export function loadTemplate<View>(templatesDir: string, name: string): RenderTemplate<View> {
  const file = join(templatesDir, name);
  const cached = cache.get(file);
  if (cached !== undefined) return cached as RenderTemplate<View>;
  const compiled = handlebars.compile<View>(readFileSync(file, "utf8"), {
    noEscape: true,
    strict: true,
  });
  const render: RenderTemplate<View> = (view) => compiled(view);
  cache.set(file, render as RenderTemplate<never>);
  return render;
}
