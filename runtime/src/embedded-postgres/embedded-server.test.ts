/**
 * The embedded server itself: its settings reach the server, a pause is an outage that keeps
 * the data, a resume serves it again on the same port, and stop() leaves nothing behind.
 */
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "./index.js";

let server: EmbeddedPostgresServer | undefined;

afterAll(async () => {
  await server?.stop();
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

const folders = (prefix: string) => readdirSync(tmpdir()).filter((f) => f.startsWith(prefix));

it("starts with its settings, pauses keeping the data, resumes on the same port, stops without a trace", async () => {
  const prefix = `svcgen-pg-unit-${process.pid}-`;
  server = await startEmbeddedPostgres({
    folderPrefix: prefix,
    settings: { max_connections: "42", synchronous_commit: "on" },
  });
  const { url, port } = server;
  expect(url).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
  const settings = await query<{ name: string; setting: string }>(
    url,
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'max_connections', 'synchronous_commit') ORDER BY name",
  );
  expect(settings).toEqual([
    { name: "fsync", setting: "off" },
    { name: "max_connections", setting: "42" },
    { name: "synchronous_commit", setting: "on" },
  ]);
  await query(url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");

  await server.pause();
  await server.pause(); // harmless twice
  const refused = await query(url, "SELECT 1").then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code,
  );
  expect(refused).toBe("ECONNREFUSED");

  await server.resume();
  expect(await query<{ v: number }>(url, "SELECT v FROM kept")).toEqual([{ v: 7 }]);

  const [folder] = folders(prefix);
  expect(folder).toBeDefined();
  await server.stop();
  await server.stop(); // safe twice
  expect(existsSync(join(tmpdir(), folder ?? ""))).toBe(false);
  expect(folders(prefix)).toEqual([]);
  const gone = await query(url, "SELECT 1").then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code,
  );
  expect(gone).toBe("ECONNREFUSED");
});

it("a server that does not start: the caller's words, the server's own lines, no folder left", async () => {
  const prefix = `svcgen-pg-unit-bad-${process.pid}-`;
  const failed = await startEmbeddedPostgres({
    folderPrefix: prefix,
    settings: { no_such_setting: "1" },
    failureMessage: "Could not start the database of this check",
  }).then(
    () => undefined,
    (e: Error) => e.message,
  );
  expect(failed).toMatch(/^Could not start the database of this check: /);
  expect(failed).toContain('unrecognized configuration parameter "no_such_setting"');
  expect(folders(prefix)).toEqual([]);
});
