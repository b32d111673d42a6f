// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the tests write ${VAR} references on purpose
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../diagnostics.js";
import { substituteEnv } from "./env-substitution.js";
import { findConfig, loadConfig } from "./load-config.js";
import { closestMatch } from "./suggest.js";

let base: string;
let counter = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "svcgen-config-test-"));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh project folder with migrations/ and queries/ holding a file each, and the config. */
async function project(yaml: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = join(base, `p${counter++}`);
  await mkdir(join(dir, "migrations"), { recursive: true });
  await mkdir(join(dir, "queries"), { recursive: true });
  await writeFile(join(dir, "migrations", "002_b.sql"), "select 2;");
  await writeFile(join(dir, "migrations", "001_a.sql"), "select 1;");
  await writeFile(join(dir, "migrations", "notes.txt"), "not sql");
  await writeFile(join(dir, "queries", "users.sql"), "-- name: X :one\nselect 1;");
  for (const [name, text] of Object.entries(extra)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await writeFile(join(dir, "svcgen.yaml"), yaml);
  return dir;
}

async function load(yaml: string, env: NodeJS.ProcessEnv = {}, extra: Record<string, string> = {}) {
  const dir = await project(yaml, extra);
  return { dir, ...(await loadConfig(join(dir, "svcgen.yaml"), env)) };
}

/** The diagnostics without severity/code noise, for compact assertions. */
function brief(list: readonly Diagnostic[]) {
  return list.map((d) => ({
    line: d.line,
    column: d.column,
    message: d.message,
    ...(d.hint !== undefined ? { hint: d.hint } : {}),
  }));
}

describe("loadConfig", () => {
  it("takes the error domain from errors.domain, else package.json's name", async () => {
    const base = "schema: migrations\nqueries: queries\n";
    const configured = await load(`${base}errors:\n  domain: acme.users\n`);
    expect(configured.diagnostics).toEqual([]);
    expect(configured.config?.errorDomain).toBe("acme.users");
    const named = await load(base, {}, { "package.json": '{"name":"@acme/users"}' });
    expect(named.config?.errorDomain).toBe("@acme/users");
    const empty = await load(`${base}errors:\n  domain: ""\n`);
    expect(empty.diagnostics.map((d) => d.message)).toEqual([
      "errors.domain: expected an ErrorInfo domain (a project or service name)",
    ]);
  });

  it("applies defaults and resolves folders to sorted .sql files", async () => {
    const { dir, config, diagnostics } = await load("schema: migrations\nqueries: queries\n");
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({
      configPath: join(dir, "svcgen.yaml"),
      rootDir: dir,
      schemaFiles: [join(dir, "migrations", "001_a.sql"), join(dir, "migrations", "002_b.sql")],
      queryFiles: [join(dir, "queries", "users.sql")],
      out: join(dir, "gen"),
      database: { url: undefined, postgres: 15, useLiveSchema: false, keepSchema: true },
      types: [],
      int8: "bigint",
      date: "Date",
      preparedStatements: true,
      cacheDir: join(dir, ".svcgen-cache"),
      proto: undefined,
      // No package.json beside the config: the folder's name.
      errorDomain: basename(dir),
    });
  });

  it("reads every key", async () => {
    const yaml = [
      "version: 1",
      "schema: [migrations/002_b.sql, migrations]",
      "queries: queries",
      "out: src/gen",
      "database:",
      "  url: postgres://u@${HOST:-localhost}:5432/app",
      "  postgres: 16",
      "  useLiveSchema: true",
      "types:",
      "  - pgType: numeric",
      "    tsType: Decimal",
      "    import: { name: Decimal, from: decimal.js }",
      "  - column: billing.invoices.total",
      "    paramType: string | Money",
      "    resultType: Money",
      "    import:",
      "      - { name: Money, from: ./money.js, default: true }",
      "      - { name: Other, from: other, as: O }",
      "options:",
      "  int8: string",
      "  date: string",
      "  preparedStatements: false",
      "cache: .cache",
      "proto:",
      "  roots: protos",
      "  handlers: handlers",
      "",
    ].join("\n");
    const { dir, config, diagnostics } = await load(yaml, { HOST: "" }, { "protos/a.proto": "" });
    expect(diagnostics).toEqual([]);
    const money = { name: "Money", from: "./money.js", isDefault: true };
    expect(config).toMatchObject({
      // A file listed before its folder keeps its first place; the folder adds the rest.
      schemaFiles: [join(dir, "migrations", "002_b.sql"), join(dir, "migrations", "001_a.sql")],
      out: join(dir, "src", "gen"),
      database: { url: "postgres://u@localhost:5432/app", postgres: 16, useLiveSchema: true },
      types: [
        {
          match: { kind: "pgType", pgType: "numeric" },
          paramType: {
            kind: "override",
            text: "Decimal",
            imports: [{ name: "Decimal", from: "decimal.js" }],
          },
          resultType: {
            kind: "override",
            text: "Decimal",
            imports: [{ name: "Decimal", from: "decimal.js" }],
          },
        },
        {
          match: { kind: "column", schema: "billing", table: "invoices", column: "total" },
          paramType: { kind: "override", text: "string | Money", imports: [money] },
          resultType: { kind: "override", text: "Money", imports: [money] },
        },
      ],
      int8: "string",
      date: "string",
      preparedStatements: false,
      cacheDir: join(dir, ".cache"),
      proto: { roots: [join(dir, "protos")], handlersDir: join(dir, "handlers") },
    });
  });

  it("substitutes DATABASE_URL by default and treats empty as no URL", async () => {
    const yaml = "schema: migrations\nqueries: queries\n";
    const a = await load(yaml, { DATABASE_URL: "postgres://x@h/db" });
    expect(a.config?.database.url).toBe("postgres://x@h/db");
    const b = await load(yaml, { DATABASE_URL: "" });
    expect(b.config?.database.url).toBeUndefined();
    expect(b.diagnostics).toEqual([]);
  });

  it("warns when a written URL is empty because its variable is not set", async () => {
    const { config, diagnostics } = await load(
      "schema: migrations\nqueries: queries\ndatabase:\n  url: ${PROD_URL}\n",
    );
    expect(config?.database.url).toBeUndefined();
    expect(diagnostics).toMatchObject([
      {
        severity: "warning",
        line: 4,
        column: 8,
        message: "database.url: ${PROD_URL} is not set; using an embedded PostgreSQL server",
      },
    ]);
  });

  it("resolves templates: to its folder and the overrides in it", async () => {
    const { dir, config, diagnostics } = await load(
      "schema: migrations\nqueries: queries\ntemplates: tpl\n",
      {},
      { "tpl/gen-readme.md.hbs": "x", "tpl/.gitkeep": "" },
    );
    expect(diagnostics).toEqual([]);
    expect(config?.templates).toEqual({
      dir: join(dir, "tpl"),
      overrides: [{ name: "gen-readme.md.hbs", path: join(dir, "tpl", "gen-readme.md.hbs") }],
    });
  });

  it("warns about a missing templates folder and rejects a file in its place", async () => {
    const missing = await load("schema: migrations\nqueries: queries\ntemplates: nowhere\n");
    expect(missing.config?.templates).toEqual({ dir: join(missing.dir, "nowhere"), overrides: [] });
    expect(brief(missing.diagnostics)).toEqual([
      {
        line: 3,
        column: 12,
        message:
          "templates: folder nowhere does not exist; using the built-in templates (run `svcgen templates eject` to copy them there)",
      },
    ]);
    const file = await load(
      "schema: migrations\nqueries: queries\ntemplates: t.hbs\n",
      {},
      {
        "t.hbs": "x",
      },
    );
    expect(file.config).toBeUndefined();
    expect(brief(file.diagnostics)).toEqual([
      { line: 3, column: 12, message: "templates: t.hbs is a file, not a folder" },
    ]);
  });

  it("reports YAML syntax errors with line and column", async () => {
    const { config, diagnostics } = await load("schema: migrations\nqueries: [queries\nout: gen\n");
    expect(config).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "SVC100",
        file: "svcgen.yaml",
        line: 3,
        column: 1,
        message:
          "invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
      },
    ]);
    const nested = await load("schema: migrations\nqueries: a: b\n");
    expect(brief(nested.diagnostics)).toEqual([
      {
        line: 2,
        column: 10,
        message: "invalid YAML: Nested mappings are not allowed in compact mappings",
      },
    ]);
  });

  it("reports a duplicate key as a YAML error at the second key", async () => {
    const { diagnostics } = await load("schema: migrations\nqueries: queries\nschema: x\n");
    expect(brief(diagnostics)).toEqual([
      { line: 3, column: 1, message: "invalid YAML: Map keys must be unique" },
    ]);
  });

  it("reports a value of the wrong type at the value", async () => {
    const { diagnostics } = await load(
      "schema: migrations\nqueries: queries\ndatabase:\n  postgres: eleven\n",
    );
    expect(brief(diagnostics)).toEqual([
      { line: 4, column: 13, message: "database.postgres: expected an integer between 12 and 18" },
    ]);
  });

  it("reports an out-of-range number and a bad enum value", async () => {
    const { diagnostics } = await load(
      "schema: migrations\nqueries: queries\ndatabase: { postgres: 11 }\noptions:\n  int8: long\n",
    );
    expect(brief(diagnostics)).toEqual([
      { line: 3, column: 23, message: "database.postgres: expected an integer between 12 and 18" },
      { line: 5, column: 9, message: "options.int8: expected bigint, string or number" },
    ]);
  });

  it("rejects unknown keys with a did-you-mean hint", async () => {
    const { diagnostics } = await load(
      "schema: migrations\nquerys: queries\nqueries: queries\ndatabase:\n  usLiveSchema: true\n  zzz: 1\n",
    );
    expect(brief(diagnostics)).toEqual([
      {
        line: 2,
        column: 1,
        message: "querys: unknown key `querys`",
        hint: "did you mean `queries`?",
      },
      {
        line: 5,
        column: 3,
        message: "database.usLiveSchema: unknown key `usLiveSchema`",
        hint: "did you mean `useLiveSchema`?",
      },
      {
        line: 6,
        column: 3,
        message: "database.zzz: unknown key `zzz`",
        hint: "known keys here: url, postgres, useLiveSchema, keepSchema",
      },
    ]);
  });

  it("reports a missing required key", async () => {
    const { diagnostics } = await load("# project\nschema: migrations\n");
    expect(brief(diagnostics)).toEqual([
      {
        line: 2,
        column: 1,
        message: "queries: missing required key `queries`",
        hint: "add `queries:` at the top level",
      },
    ]);
  });

  it("reports a missing folder or file at its list entry", async () => {
    const { diagnostics } = await load(
      "schema:\n  - migrations\n  - more/001.sql\nqueries: nope\n",
    );
    expect(brief(diagnostics)).toEqual([
      {
        line: 3,
        column: 5,
        message: "schema[1]: more/001.sql does not exist",
        hint: "create it, or fix the path (relative to svcgen.yaml's folder)",
      },
      {
        line: 4,
        column: 10,
        message: "queries: nope does not exist",
        hint: "create it, or fix the path (relative to svcgen.yaml's folder)",
      },
    ]);
  });

  it("reports bad environment variable syntax at the reference", async () => {
    const { diagnostics } = await load(
      'schema: migrations\nqueries: queries\ndatabase:\n  url: "postgres://${1BAD}/x"\n',
    );
    expect(brief(diagnostics)).toEqual([
      {
        line: 4,
        column: 20,
        message:
          "database.url: invalid environment variable reference `${1BAD}`: expected `${NAME}` or `${NAME:-default}`",
      },
    ]);
    const open = await load("schema: migrations\nqueries: queries\ndatabase:\n  url: x${HOST\n");
    expect(brief(open.diagnostics)).toEqual([
      {
        line: 4,
        column: 9,
        message: "database.url: unterminated environment variable reference: missing `}`",
      },
    ]);
  });

  it("reports errors inside type overrides and their imports", async () => {
    const yaml = [
      "schema: migrations",
      "queries: queries",
      "types:",
      "  - pgType: numeric",
      "    column: a.b",
      "    tsType: D",
      "  - column: nodot",
      "    tsType: X",
      "  - pgType: uuid",
      "    paramType: UserId",
      "  - pgType: int4",
      "    tsType: N",
      "    import: { name: N, form: x }",
      "",
    ].join("\n");
    const { diagnostics } = await load(yaml);
    expect(brief(diagnostics)).toEqual([
      {
        line: 4,
        column: 5,
        message: "types[0]: needs exactly one of pgType and column",
        hint: "pgType: numeric overrides a Postgres type; column: invoices.total overrides one column",
      },
      {
        line: 7,
        column: 13,
        message: "types[1].column: expected table.column or schema.table.column",
      },
      {
        line: 9,
        column: 5,
        message: "types[2]: needs tsType, or both paramType and resultType",
        hint: "tsType sets the type of parameters and results; paramType and resultType set one each",
      },
      {
        line: 13,
        column: 13,
        message: "types[3].import.from: missing required key `from`",
        hint: "add `from:`",
      },
      {
        line: 13,
        column: 24,
        message: "types[3].import.form: unknown key `form`",
        hint: "did you mean `from`?",
      },
    ]);
  });

  it("reports every problem of a file, not only the first", async () => {
    const yaml = [
      "version: 2",
      "schema: migrationz",
      "queries: 42",
      "out: ''",
      "database:",
      "  postgres: 99",
      "  url: ${X",
      "options:",
      "  date: Time",
      "  preparedStatement: true",
      "cach: x",
      "",
    ].join("\n");
    const { config, diagnostics } = await load(yaml);
    expect(config).toBeUndefined();
    expect(brief(diagnostics).map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      "1:10 version: expected 1",
      "2:9 schema: migrationz does not exist",
      "3:10 queries: expected a query file or folder or a list of them",
      "4:6 out: expected a folder",
      "6:13 database.postgres: expected an integer between 12 and 18",
      "7:8 database.url: unterminated environment variable reference: missing `}`",
      "9:9 options.date: expected Date or string",
      "10:3 options.preparedStatement: unknown key `preparedStatement`",
      "11:1 cach: unknown key `cach`",
    ]);
    expect(diagnostics.every((d) => d.code === "SVC100" && d.file === "svcgen.yaml")).toBe(true);
  });

  it("requires a URL for useLiveSchema and proto roots that exist", async () => {
    const { diagnostics } = await load(
      "schema: migrations\nqueries: queries\ndatabase:\n  useLiveSchema: true\nproto:\n  handlers: src\n",
    );
    expect(brief(diagnostics).map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      "4:18 database.useLiveSchema: needs a database URL, but database.url is empty",
      "6:3 proto.roots: folder proto does not exist",
    ]);
  });

  it("reads an empty proto section as the defaults", async () => {
    const { dir, config, diagnostics } = await load(
      "schema: migrations\nqueries: queries\nproto:\n",
      {},
      { "proto/a.proto": "" },
    );
    expect(diagnostics).toEqual([]);
    expect(config?.proto).toEqual({ roots: [join(dir, "proto")], handlersDir: join(dir, "src") });
  });

  it("warns about a folder without .sql files and still loads", async () => {
    const { config, diagnostics } = await load(
      "schema: migrations\nqueries: empty\n",
      {},
      {
        "empty/readme.md": "",
      },
    );
    expect(config?.queryFiles).toEqual([]);
    expect(diagnostics).toMatchObject([
      {
        severity: "warning",
        line: 2,
        column: 10,
        message: "queries: folder empty has no .sql files",
      },
    ]);
  });

  it("reports a missing config file without a location", async () => {
    const { config, diagnostics } = await loadConfig(join(base, "nowhere", "svcgen.yaml"), {});
    expect(config).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.message).toMatch(/^config file .*svcgen\.yaml not found$/);
    expect(diagnostics[0]?.line).toBeUndefined();
  });

  it("reports a document that is not a mapping", async () => {
    const { diagnostics } = await load("- a\n- b\n");
    expect(brief(diagnostics)).toEqual([
      { line: 1, column: 1, message: "config: expected a mapping of configuration keys" },
    ]);
  });
});

describe("findConfig", () => {
  it("finds svcgen.yaml, else svcgen.yml, else nothing", async () => {
    const dir = join(base, "find");
    await mkdir(dir, { recursive: true });
    expect(await findConfig(dir)).toBeUndefined();
    await writeFile(join(dir, "svcgen.yml"), "");
    expect(await findConfig(dir)).toBe(join(dir, "svcgen.yml"));
    await writeFile(join(dir, "svcgen.yaml"), "");
    expect(await findConfig(dir)).toBe(join(dir, "svcgen.yaml"));
  });
});

describe("substituteEnv", () => {
  it("substitutes, defaults and keeps lone dollars", () => {
    const env = { A: "1", E: "" };
    expect(substituteEnv("x${A}y${B}z${E}", env)).toEqual({
      kind: "ok",
      value: "x1yz",
      unset: ["B", "E"],
    });
    expect(substituteEnv("${E:-d}${A:-d}${B:-a:b}", env)).toEqual({
      kind: "ok",
      value: "d1a:b",
      unset: [],
    });
    expect(substituteEnv("pa$$word$", env)).toEqual({ kind: "ok", value: "pa$$word$", unset: [] });
    expect(substituteEnv("ab${}", env)).toMatchObject({ kind: "error", offset: 2 });
  });
});

describe("closestMatch", () => {
  it("suggests near names only", () => {
    expect(closestMatch("querys", ["schema", "queries"])).toBe("queries");
    expect(closestMatch("Schema", ["schema", "queries"])).toBe("schema");
    expect(closestMatch("zzz", ["url", "postgres"])).toBeUndefined();
  });
});
