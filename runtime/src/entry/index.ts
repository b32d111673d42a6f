/**
 * `@svcgen/runtime/entry`: what a service entry point may import statically, before the
 * telemetry preload (`@svcgen/runtime/telemetry/register`) and the dynamic `import()` of the
 * service. It loads Node built-ins only: a module that loaded grpc-js or pg here would load
 * them before the loader hook, and nothing would be traced.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * True when the module with this `import.meta.url` is the program node was asked to run
 * (`node dist/gen/server/user-service.js`), following symbolic links; false when it is
 * imported by another module, or node runs no file (a REPL, `--eval`).
 */
export function isMainModule(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(importMetaUrl));
  } catch {
    return false;
  }
}
