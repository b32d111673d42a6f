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

/** NATS with JetStream, as this machine and CI run it. */
export const natsUrl = "nats://127.0.0.1:4222";

/**
 * Why tests needing NATS JetStream at `natsUrl` cannot run here, printed with `what` (the
 * tests left out), or undefined when they must run: always under CI (`CI=true`), where a
 * missing server then fails them, and wherever JetStream answers.
 */
export async function natsSkipReason(what: string): Promise<string | undefined> {
  if (process.env.CI === "true") return undefined;
  const { connect } = await import("nats");
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: natsUrl, timeout: 2000, reconnect: false });
    await (await nc.jetstreamManager()).getAccountInfo();
    return undefined;
  } catch (err) {
    const reason = `NATS JetStream is not reachable at ${natsUrl} (${err instanceof Error ? err.message : String(err)})`;
    console.warn(`Skipping ${what}: ${reason}`);
    return reason;
  } finally {
    await nc?.close();
  }
}
