/**
 * Project-relative paths, in one place: every path svcgen reports or writes is relative to the
 * project folder (where the config is), with forward slashes; generated imports between
 * project files are relative to the importing file.
 */
import { posix, relative, sep } from "node:path";

/** An absolute path as a project path: relative to `rootDir`, forward slashes. */
export function projectPath(rootDir: string, abs: string): string {
  return relative(rootDir, abs).split(sep).join("/");
}

/**
 * The module specifier by which the project file `fromFile` imports the project file
 * `toFile` (both project paths; `toFile` with the extension to write, e.g. `.js`).
 */
export function relativeModule(fromFile: string, toFile: string): string {
  const rel = posix.relative(posix.dirname(fromFile), posix.normalize(toFile));
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/**
 * An override's module specifier as the generated file at `filePath` must write it. A
 * relative one (`./src/ids.js`) is relative to the project folder, where the config is; it is
 * rewritten relative to the generated file. Package names are kept as they are.
 */
export function projectRelativeImport(from: string, filePath: string): string {
  if (!from.startsWith("./") && !from.startsWith("../")) return from;
  return relativeModule(filePath, from);
}
