/**
 * `svcgen templates eject [name]`: copies built-in text templates into the project's
 * `templates:` folder (default `templates/` next to the config), where they override the
 * built-ins by name. Never overwrites a file unless forced.
 */
import { copyFile, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/config.js";
import { closestMatch } from "../config/suggest.js";
import { projectPath } from "../project-paths.js";
import {
  builtinTemplateNames,
  builtinTemplates,
  builtinTemplatesDir,
} from "../templates/template-registry.js";

/** What an eject did, or why it did nothing. */
export type EjectResult =
  | {
      readonly kind: "ejected";
      /** Project-relative paths written. */
      readonly written: readonly string[];
      /** The folder, project-relative. */
      readonly dir: string;
      /** Whether the config names the folder; if not, generate ignores it until it does. */
      readonly configured: boolean;
    }
  | { readonly kind: "unknown-name"; readonly message: string; readonly hint: string }
  | { readonly kind: "exists"; readonly paths: readonly string[] };

/**
 * Copies the built-in template `name` (every built-in when undefined) into the templates
 * folder. Refuses, copying nothing, when a destination file exists and `force` is false.
 */
export async function ejectTemplates(
  config: ResolvedConfig,
  name: string | undefined,
  force: boolean,
): Promise<EjectResult> {
  if (name !== undefined && !builtinTemplateNames.includes(name)) {
    const guess = closestMatch(name, builtinTemplateNames);
    return {
      kind: "unknown-name",
      message: `no built-in template named ${name}`,
      hint:
        guess !== undefined
          ? `did you mean \`${guess}\`?`
          : `the built-in templates are ${builtinTemplateNames.join(", ")}`,
    };
  }
  const dir = config.templates?.dir ?? join(config.rootDir, "templates");
  const chosen = builtinTemplates.filter((t) => name === undefined || t.name === name);
  const targets = chosen.map((t) => ({
    from: join(builtinTemplatesDir(), t.name),
    to: join(dir, t.name),
  }));
  if (!force) {
    const existing: string[] = [];
    for (const t of targets)
      if (await exists(t.to)) existing.push(projectPath(config.rootDir, t.to));
    if (existing.length > 0) return { kind: "exists", paths: existing };
  }
  await mkdir(dir, { recursive: true });
  for (const t of targets) await copyFile(t.from, t.to);
  return {
    kind: "ejected",
    written: targets.map((t) => projectPath(config.rootDir, t.to)),
    dir: projectPath(config.rootDir, dir),
    configured: config.templates !== undefined,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
