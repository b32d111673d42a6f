/**
 * `svcgen watch` end to end: the built CLI as a child process on a temp project, edited while
 * it runs. Waits for its output, never for a fixed time.
 */
import { execFileSync } from "node:child_process";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { serverUrl } from "../db.js";
import { writeProject } from "./cli-project.js";
import { startWatch, type WatchChild } from "./watch-child.js";

const migration = `CREATE TABLE users (
  id integer PRIMARY KEY,
  email text NOT NULL,
  bio text
);
`;

const usersQueries = `-- name: GetUser :one
SELECT id, email FROM users WHERE id = @id;

-- name: ListUsers :many
SELECT id, email, bio FROM users ORDER BY id;
`;

const notesQueries = `-- name: CountUsers :one
SELECT count(*) AS total FROM users;
`;

const config = `version: 1
schema: migrations
queries: queries
out: gen
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function project(): Promise<string> {
  const dir = await writeProject("watch", {
    "svcgen.yaml": config,
    "migrations/001_init.sql": migration,
    "queries/users.sql": usersQueries,
    "queries/counts.sql": notesQueries,
  });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function track(child: WatchChild): void {
  cleanups.push(async () => {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill("SIGTERM");
      await child.exited;
    }
  });
}

/** Pids of the processes whose parent is `pid`. */
function childPids(pid: number): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, ppid]) => ppid === pid)
    .map(([p]) => p ?? 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("svcgen watch", () => {
  it("regenerates on edits, reports errors and keeps running, re-applies migrations", async () => {
    const dir = await project();
    const child = startWatch(dir, { ...process.env, DATABASE_URL: serverUrl() });
    track(child);
    await child.waitFor(
      "stdout",
      /initial run: migrations applied, 3 of 3 queries re-analysed, \d+ files written \(\d+ ms\)\n/,
    );
    const usersTs = join(dir, "gen/db/users.ts");
    const countsTs = join(dir, "gen/db/counts.ts");
    expect(await readFile(usersTs, "utf8")).not.toContain(
      "bio: string | null;\n}\n\n/**\n * GetUser",
    );
    const countsMtime = (await stat(countsTs)).mtimeMs;

    // A changed query: only that file's changed query is analysed, only its module written.
    let mark = child.stdout().length;
    await writeFile(
      join(dir, "queries/users.sql"),
      usersQueries.replace("id, email FROM", "id, email, bio FROM"),
    );
    await child.waitFor(
      "stdout",
      /queries\/users\.sql changed: 1 of 3 queries re-analysed, \d+ files written \(\d+ ms\)\n/,
      mark,
    );
    expect(await readFile(usersTs, "utf8")).toContain(
      "SELECT id, email, bio FROM users WHERE id = $1",
    );
    expect((await stat(countsTs)).mtimeMs).toBe(countsMtime);

    // An error: printed with its location; the process keeps running; nothing written.
    mark = child.stdout().length;
    const errMark = child.stderr().length;
    await writeFile(
      join(dir, "queries/users.sql"),
      usersQueries.replace("id, email FROM", "id, nme FROM"),
    );
    await child.waitFor("stdout", /queries\/users\.sql changed: .*1 error, nothing written/, mark);
    expect(child.stderr().slice(errMark)).toBe(
      'queries/users.sql:2:12: error SVC005: GetUser: column "nme" does not exist\n' +
        "2 | SELECT id, nme FROM users WHERE id = @id;\n" +
        "  |            ^\n",
    );
    expect(child.process.exitCode).toBe(null);
    expect(await readFile(usersTs, "utf8")).toContain(
      "SELECT id, email, bio FROM users WHERE id = $1",
    );

    // The fix clears it; the fixed query's analysis is still in the watcher's cache.
    mark = child.stdout().length;
    await writeFile(join(dir, "queries/users.sql"), usersQueries);
    await child.waitFor(
      "stdout",
      /queries\/users\.sql changed: 0 of 3 queries re-analysed, \d+ files written, errors cleared \(\d+ ms\)\n/,
      mark,
    );
    expect(await readFile(usersTs, "utf8")).toContain("SELECT id, email FROM users WHERE id = $1");

    // A migration: applied to a fresh scratch database, every query analysed again.
    mark = child.stdout().length;
    await writeFile(
      join(dir, "migrations/001_init.sql"),
      migration.replace("bio text", "bio text NOT NULL"),
    );
    await child.waitFor(
      "stdout",
      /migrations\/001_init\.sql changed: migrations applied, 3 of 3 queries re-analysed, \d+ files written \(\d+ ms\)\n/,
      mark,
    );
    expect(await readFile(usersTs, "utf8")).toContain("bio: string;");

    // A new query file in the watched folder is picked up.
    mark = child.stdout().length;
    await writeFile(join(dir, "queries/more.sql"), "-- name: Ping :one\nSELECT 1 AS one;\n");
    await child.waitFor("stdout", /queries\/more\.sql changed: 1 of 4 queries re-analysed/, mark);
    expect(await readFile(join(dir, "gen/db/more.ts"), "utf8")).toContain("SELECT 1 AS one");

    mark = child.stdout().length;
    // Two saves in quick succession (within chokidar's 50 ms change throttle): the second wins.
    await writeFile(join(dir, "queries/more.sql"), "-- name: Ping :one\nSELECT 2 AS two;\n");
    await new Promise((r) => setTimeout(r, 5));
    await writeFile(join(dir, "queries/more.sql"), "-- name: Ping :one\nSELECT 3 AS three;\n");
    await child.waitFor("stdout", /queries\/more\.sql changed: 1 of 4 queries re-analysed/, mark);
    for (let i = 0; i < 100; i++) {
      if ((await readFile(join(dir, "gen/db/more.ts"), "utf8")).includes("SELECT 3 AS three"))
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await readFile(join(dir, "gen/db/more.ts"), "utf8")).toContain("SELECT 3 AS three");

    // A broken config is reported and waited out; fixing it reloads everything.
    mark = child.stdout().length;
    await writeFile(join(dir, "svcgen.yaml"), `${config}out: [1]\n`);
    await child.waitFor(
      "stdout",
      /svcgen\.yaml changed: the config has errors; waiting for a fix\n/,
      mark,
    );
    expect(child.stderr()).toContain("svcgen.yaml:5:");
    expect(child.process.exitCode).toBe(null);
    mark = child.stdout().length;
    await writeFile(join(dir, "svcgen.yaml"), `${config}# edited\n`);
    await child.waitFor(
      "stdout",
      /svcgen\.yaml changed: \d+ of 4 queries re-analysed, .*errors cleared/,
      mark,
    );

    child.process.kill("SIGINT");
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toMatch(/svcgen watch: stopped\n$/);
  }, 180_000);

  it("stops its embedded server on SIGINT and leaves no postgres process", async () => {
    const dir = await project();
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const child = startWatch(dir, env);
    track(child);
    await child.waitFor("stdout", /initial run: migrations applied, 3 of 3 queries re-analysed/);
    const pid = child.process.pid ?? 0;
    const servers = childPids(pid);
    // The embedded postgres runs as the watcher's child while it watches.
    expect(servers.length).toBeGreaterThan(0);
    child.process.kill("SIGINT");
    expect(await child.exited).toBe(0);
    for (const p of servers) expect(alive(p)).toBe(false);
    expect(execFileSync("ps", ["-eo", "ppid=,args="], { encoding: "utf8" })).not.toMatch(
      new RegExp(`^\\s*${pid}\\s`, "m"),
    );
  });

  it("exits 0 on SIGTERM", async () => {
    const dir = await project();
    const child = startWatch(dir, { ...process.env, DATABASE_URL: serverUrl() });
    track(child);
    await child.waitFor("stdout", /initial run: /);
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});
