import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverUrl } from "../../../test/db.js";
import { loadConfig } from "../config/load-config.js";
import { openSchema } from "../db/schema-source.js";
import { loadParser, parseQueryFile } from "../parse/query-file-parser.js";
import { runInit, scaffoldDependencies, scaffoldScripts } from "./init-command.js";

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
    const { created, updated, diagnostics } = await runInit(dir);
    expect(diagnostics).toEqual([]);
    expect(created).toEqual([
      "svcgen.yaml",
      "migrations/001_init.sql",
      "queries/users.sql",
      "proto/app/v1/users.proto",
      "tsconfig.json",
      "test/user-service.test.ts",
      "package.json",
    ]);
    expect(updated).toEqual([]);

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
    const { created, updated, diagnostics } = await runInit(dir);
    expect(created).toEqual([]);
    expect(updated).toEqual([]);
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

  it("completes an existing package.json, keeping what the user has", async () => {
    const dir = join(base, "with-package");
    await mkdir(dir, { recursive: true });
    const mine = {
      name: "mine",
      scripts: { build: "tsc -b" },
      dependencies: { svcgen: "file:../svcgen-0.1.0.tgz", pg: "8.11.0" },
    };
    await writeFile(join(dir, "package.json"), JSON.stringify(mine));
    const { created, updated, diagnostics } = await runInit(dir);
    expect(diagnostics).toEqual([]);
    expect(created).not.toContain("package.json");
    expect(updated).toEqual(["package.json"]);
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as Record<
      string,
      Record<string, string>
    >;
    const want = scaffoldDependencies();
    expect(pkg.name).toBe("mine");
    expect(pkg.type).toBe("module");
    // The user's script and versions stay; what is missing is added, exact.
    expect(pkg.scripts).toEqual({ ...scaffoldScripts, build: "tsc -b" });
    expect(pkg.dependencies?.svcgen).toBe("file:../svcgen-0.1.0.tgz");
    expect(pkg.dependencies?.pg).toBe("8.11.0");
    expect(pkg.devDependencies?.svcgen).toBeUndefined();
    expect(pkg.dependencies?.["@grpc/grpc-js"]).toBe(want.dependencies["@grpc/grpc-js"]);
    expect(pkg.devDependencies?.typescript).toBe(want.devDependencies.typescript);
    for (const v of [...Object.values(want.dependencies), ...Object.values(want.devDependencies)]) {
      expect(v).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    }
  });

  it("turns npm init's CommonJS package.json into an ES module one, with a warning", async () => {
    const dir = join(base, "commonjs");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), '{"name":"app","type":"commonjs"}');
    const r = await runInit(dir);
    expect(r.updated).toEqual(["package.json"]);
    expect(r.diagnostics.map((d) => `${d.severity} ${d.file}: ${d.message}`)).toEqual([
      'warning package.json: package.json said "type": "commonjs"; set to "module" because generated code is ES modules',
    ]);
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { type: string };
    expect(pkg.type).toBe("module");
  });

  it("refuses a package.json that is not JSON and writes nothing", async () => {
    const dir = join(base, "broken-package");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), "{ not json");
    const r = await runInit(dir);
    expect(r.created).toEqual([]);
    expect(r.diagnostics.map((d) => `${d.severity} ${d.file}`)).toEqual(["error package.json"]);
    await expect(readFile(join(dir, "svcgen.yaml"), "utf8")).rejects.toThrow();
    expect(await readFile(join(dir, "package.json"), "utf8")).toBe("{ not json");
  });

  it("the runtime is released with svcgen: same version", async () => {
    const runtimePkg = JSON.parse(
      await readFile(join(import.meta.dirname, "../../../runtime/package.json"), "utf8"),
    ) as { version: string };
    expect(scaffoldDependencies().dependencies["@svcgen/runtime"]).toBe(runtimePkg.version);
  });
});
