/**
 * The example project is produced entirely by svcgen: regenerating it from its inputs
 * (migrations, queries, protos), from scratch (no cache, no handler files), must reproduce the
 * committed output byte for byte — gen/ and the handler skeletons under src/ — and that output
 * must compile under the strict flags.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../cli/src/main.js";
import { serverUrl } from "./db.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const exampleDir = join(root, "example-project");
const work = await mkdtemp(join(tmpdir(), "svcgen-example-"));

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out.sort();
}

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("example project", () => {
  it("regenerates from scratch to exactly the committed files", async () => {
    for (const part of ["svcgen.yaml", "migrations", "queries", "proto"]) {
      await cp(join(exampleDir, part), join(work, part), { recursive: true });
    }
    let err = "";
    const code = await main(["generate", "--no-cache"], {
      out: () => {},
      err: (t) => {
        err += t;
      },
      cwd: work,
      env: { DATABASE_URL: serverUrl() },
    });
    // Standard error carries progress lines only: any diagnostic, even a warning, fails this.
    const unexpected = err
      .split("\n")
      .filter((line) => line !== "" && !/^applying migrations\/[\w/.-]+\.sql$/.test(line));
    expect(unexpected).toEqual([]);
    expect(code).toBe(0);
    // gen/ is svcgen's; src/ holds the handler skeletons it creates in a fresh project;
    // deploy/ and .github/ the deployment files (`deploy:` in svcgen.yaml).
    for (const part of ["gen", "src", "deploy", ".github"]) {
      const want = await filesUnder(join(exampleDir, part));
      const got = await filesUnder(join(work, part));
      expect(want.length, part).toBeGreaterThan(0);
      expect(got.map((f) => relative(work, f))).toEqual(want.map((f) => relative(exampleDir, f)));
      for (const f of want) {
        const rel = relative(exampleDir, f);
        expect(await readFile(join(work, rel), "utf8"), rel).toBe(await readFile(f, "utf8"));
      }
    }
  });

  it("compiles under the strict flags", async () => {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const r = await run("node", [tsc, "-p", join(exampleDir, "tsconfig.json")]).then(
      () => ({ code: 0, out: "" }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });
});
