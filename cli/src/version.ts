/** svcgen's version: printed by `--version`, and part of every cache key. */
export const version = "0.1.0";
