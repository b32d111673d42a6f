/**
 * Proto diagnostics as `svcgen generate` prints them: like SQL ones, with the source line and
 * a caret under the column, and a "did you mean" for a misspelt query name in a method option.
 * The project is the users fixture with `proto: proto` (the shorthand for proto.roots).
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/cli-project.js";
import { serverUrl } from "../db.js";
import { usersProject } from "./proto-fixture.js";

const protoPath = "proto/acme/users/v1/users.proto";
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "svcgen-proto-cli-"));
  await cp(usersProject, dir, { recursive: true });
  await writeFile(
    join(dir, "svcgen.yaml"),
    "schema: sql/schema.sql\nqueries: sql/queries\nout: gen\nproto: proto\n",
  );
  const text = await readFile(join(dir, protoPath), "utf8");
  expect(text).toContain('option (svcgen.v1.method) = {query: "GetUser"};');
  await writeFile(join(dir, protoPath), text.replace('{query: "GetUser"}', '{query: "GetUsr"}'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("proto diagnostics on the command line", () => {
  it("print the source line with a caret and suggest the nearest query name", async () => {
    const r = await runCli(dir, ["generate"], { DATABASE_URL: serverUrl() });
    expect(r.code).toBe(1);
    const at = r.err.indexOf(`${protoPath}:104:5: error SVC301:`);
    expect(at).toBeGreaterThanOrEqual(0);
    const lines = r.err.slice(at).split("\n");
    expect(lines.slice(0, 4)).toEqual([
      `${protoPath}:104:5: error SVC301: UserService.GetUser: query GetUsr does not exist`,
      '104 |     option (svcgen.v1.method) = {query: "GetUsr"};',
      "    |     ^",
      "  hint: Did you mean GetUser (sql/queries/users.sql:1)?",
    ]);
  });
});
