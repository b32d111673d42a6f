/**
 * System tools some tests use beside Node (promtool from Debian's `prometheus` package). CI
 * installs them (`.ci/run`) and must run those checks, so there a missing tool is an error; on a
 * machine with only Node the check is left out with the reason printed.
 */
import { execFileSync } from "node:child_process";

/** The tool's path when it is on PATH; otherwise undefined after printing why the check is left out. */
export function systemTool(name: string, installHint: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  } catch {
    if (process.env.CI === "true") {
      throw new Error(
        `${name} is not installed, and CI must run the checks that need it (${installHint})`,
      );
    }
    console.warn(`leaving out the ${name} check: ${name} is not installed (${installHint})`);
    return undefined;
  }
}
