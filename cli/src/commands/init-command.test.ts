import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverUrl } from "../../../test/db.js";
import { loadConfig } from "../config/load-config.js";
import { openSchema } from "../db/schema-source.js";
import { loadParser, parseQueryFile } from "../parse/query-file-parser.js";
import { runInit } from "./init-command.js";

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "svcgen-init-test-"));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("runInit", () => {
  it("scaffolds a project whose config loads and whose migration and queries work", async () => {
    const dir = join(base, "fresh", "project");
    const { created, diagnostics } = await runInit(dir);
    expect(diagnostics).toEqual([]);
    expect(created).toEqual([
      "svcgen.yaml",
      "migrations/001_init.sql",
      "queries/users.sql",
      "proto/.gitkeep",
    ]);

    const loaded = await loadConfig(join(dir, "svcgen.yaml"), { DATABASE_URL: serverUrl() });
    expect(loaded.diagnostics).toEqual([]);
    const config = loaded.config;
    expect(config).toBeDefined();
    if (config === undefined) return;
    expect(config.schemaFiles).toEqual([join(dir, "migrations", "001_init.sql")]);
    expect(config.queryFiles).toEqual([join(dir, "queries", "users.sql")]);
    expect(config.proto).toEqual({ roots: [join(dir, "proto")], handlersDir: join(dir, "src") });

    const migration = {
      path: "migrations/001_init.sql",
      text: await readFile(join(dir, "migrations", "001_init.sql"), "utf8"),
    };
    const { session, diagnostics: schemaDiagnostics } = await openSchema(config, [migration]);
    expect(schemaDiagnostics).toEqual([]);
    expect(session).toBeDefined();
    if (session === undefined) return;
    try {
      await loadParser();
      const parsed = parseQueryFile({
        path: "queries/users.sql",
        text: await readFile(join(dir, "queries", "users.sql"), "utf8"),
      });
      expect(parsed.diagnostics).toEqual([]);
      expect(parsed.queries.map((q) => `${q.name} :${q.command}`)).toEqual([
        "GetUser :one",
        "ListUsers :many",
        "CreateUser :one",
        "DeleteUser :execrows",
      ]);
      // Each query prepares against the scaffolded schema.
      const client = new pg.Client({ connectionString: session.connectionString });
      await client.connect();
      try {
        for (const q of parsed.queries) {
          await client.query(`PREPARE ${q.name.toLowerCase()} AS ${q.sql}`);
        }
      } finally {
        await client.end();
      }
    } finally {
      await session.close();
    }
  });

  it("refuses to overwrite existing files and then writes nothing", async () => {
    const dir = join(base, "existing");
    await mkdir(join(dir, "queries"), { recursive: true });
    await writeFile(join(dir, "svcgen.yaml"), "mine: true\n");
    await writeFile(join(dir, "queries", "users.sql"), "-- mine\n");
    const { created, diagnostics } = await runInit(dir);
    expect(created).toEqual([]);
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "SVC100",
        message: "svcgen.yaml already exists; svcgen init does not overwrite files",
        file: "svcgen.yaml",
        hint: "run svcgen init in an empty folder, or move the file away",
      },
      {
        severity: "error",
        code: "SVC100",
        message: "queries/users.sql already exists; svcgen init does not overwrite files",
        file: "queries/users.sql",
        hint: "run svcgen init in an empty folder, or move the file away",
      },
    ]);
    expect(await readFile(join(dir, "svcgen.yaml"), "utf8")).toBe("mine: true\n");
    await expect(readFile(join(dir, "migrations", "001_init.sql"), "utf8")).rejects.toThrow();
  });
});
