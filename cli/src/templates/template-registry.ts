/**
 * The built-in text templates: Handlebars files for the text artifacts `generate` writes and
 * users may customise (a project's `templates:` folder overrides them by file name;
 * `svcgen templates eject` copies them there). TypeScript is never produced through these:
 * it goes through the printer. Light on purpose (no Handlebars here): config loading uses it
 * to check override names.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One built-in text template. */
export interface BuiltinTemplate {
  /** Its file name, which is also the name an override must have. */
  readonly name: string;
  /** What it renders, for `svcgen templates eject` and the README. */
  readonly description: string;
}

/** Every built-in text template, sorted by name. */
export const builtinTemplates: readonly BuiltinTemplate[] = [
  {
    name: "gen-readme.md.hbs",
    description: "<out>/README.md: what the generated folder holds and how to regenerate it",
  },
];

/** The names of {@link builtinTemplates}. */
export const builtinTemplateNames: readonly string[] = builtinTemplates.map((t) => t.name);

/**
 * The folder holding the built-in text templates: `templates/text` in the repository or the
 * installed package. Found by walking up from this module, so it works from `cli/src/` under
 * a test runner and from `cli/dist/`.
 */
export function builtinTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "templates", "text");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `svcgen's templates/text folder not found above ${fileURLToPath(import.meta.url)}`,
  );
}
