/** Paths as svcgen shows and records them. */
import { relative, sep } from "node:path";

/** `abs` relative to the project folder `rootDir`, with forward slashes on every platform. */
export function projectPath(rootDir: string, abs: string): string {
  return relative(rootDir, abs).split(sep).join("/");
}
