/**
 * What `svcgen watch` watches, derived from the config: the config file itself, every
 * migration and query folder or file it names (folders shallowly, as the config reads only
 * their direct `.sql` files, so a new file in them is picked up), the proto roots
 * (recursively, `.proto` files) and the `templates:` folder (shallowly).
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import type { ResolvedConfig } from "../config/config.js";

/** The watch targets of a project. All paths are absolute. */
export interface WatchPaths {
  readonly config: string;
  /** Migration and query files and folders, watched without recursion. */
  readonly sql: readonly string[];
  /** Proto roots, watched recursively. */
  readonly proto: readonly string[];
  /** The `templates:` folder, watched without recursion; absent without the key. */
  readonly templates?: string;
}

/** What a changed path is to the watcher. */
export type ChangeKind = "config" | "migration" | "query" | "proto" | "template" | "other";

/**
 * The watch targets of `config`. The folders are read from the config file as written
 * (`schema:` and `queries:`), since the resolved config lists only the files that exist now.
 */
export async function watchPaths(config: ResolvedConfig): Promise<WatchPaths> {
  const written = new Set<string>();
  try {
    const raw = parse(await readFile(config.configPath, "utf8")) as Record<string, unknown> | null;
    for (const key of ["schema", "queries"]) {
      const v = raw?.[key];
      for (const p of Array.isArray(v) ? v : [v]) {
        // Unsubstituted or odd values are skipped: the resolved files below still count.
        if (typeof p === "string" && p !== "") written.add(resolve(config.rootDir, p));
      }
    }
  } catch {
    // The config was loaded a moment ago; if it cannot be read now, the next change tells.
  }
  const sql = new Set([...written, ...config.schemaFiles, ...config.queryFiles]);
  return {
    config: config.configPath,
    sql: [...sql].sort(),
    proto: [...(config.proto?.roots ?? [])].sort(),
    ...(config.templates !== undefined ? { templates: config.templates.dir } : {}),
  };
}

/**
 * Classifies a changed path. `configs` are the configs before and after the change (a new or
 * deleted `.sql` file is in only one of their file lists).
 */
export function classifyChange(
  configs: readonly (ResolvedConfig | undefined)[],
  path: string,
): ChangeKind {
  if (configs.some((c) => c?.configPath === path)) return "config";
  if (configs.some((c) => c?.schemaFiles.includes(path) === true)) return "migration";
  if (configs.some((c) => c?.queryFiles.includes(path) === true)) return "query";
  if (path.endsWith(".proto")) return "proto";
  if (configs.some((c) => c?.templates !== undefined && isInFolder(path, c.templates.dir))) {
    return "template";
  }
  return "other";
}

/** Whether `path` is a direct child of `dir` that is not a dot file. */
export function isInFolder(path: string, dir: string): boolean {
  const name = relative(dir, path);
  return name !== "" && !name.startsWith(".") && !name.includes(sep) && !isAbsolute(name);
}
