/**
 * The ways `generate` avoids work: an up-to-date project touches no database at all, a
 * deleted output is restored, and the schema database built from the migrations is kept on
 * the server between runs (one per migrations hash) and replaced when migrations change.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/src/main.js";
import { serverUrl } from "../db.js";

const dirs: string[] = [];

async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "svcgen-cache-"));
  dirs.push(dir);
  await mkdir(join(dir, "migrations"));
  await mkdir(join(dir, "queries"));
  await writeFile(join(dir, "svcgen.yaml"), "schema: migrations\nqueries: queries\nout: gen\n");
  await writeFile(
    join(dir, "migrations", "001.sql"),
    "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
  );
  await writeFile(
    join(dir, "queries", "notes.sql"),
    "-- name: GetNote :one\nSELECT id, body FROM notes WHERE id = @id;\n",
  );
  return dir;
}

async function generate(dir: string, url: string, ...flags: string[]) {
  let out = "";
  let err = "";
  const code = await main(["generate", ...flags], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: url },
  });
  return { code, out, err };
}

/**
 * The kept schema databases of the project in `dir`, and only of it: their names start with a
 * hash of the project folder, so databases other test files create on the same server (in
 * parallel) are never counted.
 */
async function keptDatabases(dir: string): Promise<{ datname: string; note: string | null }[]> {
  const project = createHash("sha256").update(dir).digest("hex").slice(0, 8);
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    const r = await c.query<{ datname: string; note: string | null }>(
      "SELECT datname, shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
      [`svcgen_schema_${project}_`],
    );
    return r.rows;
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("caching", () => {
  it("an up-to-date project needs no database, and a deleted output is restored", async () => {
    const dir = await project();
    expect((await generate(dir, serverUrl())).code).toBe(0);
    // Port 1 refuses connections: any attempt to reach a database would fail the run.
    const unreachable = "postgres://postgres@127.0.0.1:1/postgres";
    const again = await generate(dir, unreachable);
    expect(again.err).toBe("");
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/1 queries \(0 analysed, 1 cached\): 0 written/);

    const module = join(dir, "gen", "db", "notes.ts");
    const before = await readFile(module, "utf8");
    await unlink(module);
    const restored = await generate(dir, unreachable);
    expect(restored.code).toBe(0);
    expect(restored.out).toMatch(/1 written/);
    expect(await readFile(module, "utf8")).toBe(before);
  });

  it("keeps the schema database per migrations hash and replaces it when migrations change", async () => {
    const dir = await project();
    expect(await keptDatabases(dir)).toEqual([]);
    expect((await generate(dir, serverUrl(), "--no-cache")).code).toBe(0);
    const first = await keptDatabases(dir);
    expect(first).toHaveLength(1);
    expect(first[0]?.note).toBe("svcgen kept schema: complete");

    const second = await generate(dir, serverUrl(), "--no-cache");
    expect(second.code).toBe(0);
    expect(second.err).not.toContain("applying");
    expect(await keptDatabases(dir)).toEqual(first);

    await writeFile(
      join(dir, "migrations", "002.sql"),
      "ALTER TABLE notes ADD COLUMN title text;\n",
    );
    const third = await generate(dir, serverUrl());
    expect(third.code).toBe(0);
    expect(third.err).toContain("applying migrations/002.sql");
    const now = await keptDatabases(dir);
    expect(now).toHaveLength(1);
    expect(now[0]?.datname).not.toBe(first[0]?.datname);
  });
});
