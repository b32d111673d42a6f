/**
 * protoc-gen-svcgen under the real `buf generate` (node_modules' buf, offline) with the
 * buf.gen.yaml of fixtures/plugin, on a temp copy of the users fixture: after `svcgen
 * generate` (a separate process, on the run's PostgreSQL server) wrote the manifest, the
 * plugin runs with `DATABASE_URL` pointing at a closed port and writes byte for byte the
 * `gen/proto`, `gen/grpc`, `gen/server` and `gen/testing` files and `gen/errors.ts` that `svcgen generate` wrote. It reads the manifest (the
 * serialised Model) and buf's descriptors; it never opens a database.
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../../cli/src/db/embedded-server.js";
import {
  createSvcgenPlugin,
  parsePluginOptions,
  runSvcgenPlugin,
} from "../../cli/src/plugin/svcgen-plugin.js";
import { bufCommand, buildProto } from "../../cli/src/proto/buf-build.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { serverUrl } from "../db.js";
import { protoConfig, repoRoot, usersProject } from "../proto/proto-fixture.js";
import { usersModel } from "../proto/users-model.js";

const pluginFixture = path.join(repoRoot, "fixtures/plugin");
/** The generated files that come from the protos (with the manifest's queries): the plugin's. */
const fromProtos = /^gen\/((proto|grpc|server|testing)\/|errors\.ts$)/;
const temps: string[] = [];

/**
 * A temp project: the users fixture's protos, schema and queries, fixtures/plugin's
 * svcgen.yaml, buf.yaml and buf.gen.yaml, and the includes written by the plugin's shim.
 */
async function makeProject(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "svcgen-plugin-"));
  temps.push(dir);
  await cp(path.join(usersProject, "proto"), path.join(dir, "proto"), { recursive: true });
  await mkdir(path.join(dir, "sql"));
  await cp(path.join(usersProject, "sql/schema.sql"), path.join(dir, "sql/schema.sql"));
  await cp(path.join(usersProject, "sql/queries"), path.join(dir, "sql/queries"), {
    recursive: true,
  });
  for (const f of ["svcgen.yaml", "buf.yaml", "buf.gen.yaml"]) {
    await cp(path.join(pluginFixture, f), path.join(dir, f));
  }
  // `protoc-gen-svcgen --write-includes proto-include`, as the README says, through the shim.
  const shim = path.join(repoRoot, "bin/protoc-gen-svcgen.js");
  const w = spawnSync(process.execPath, [shim, "--write-includes", "proto-include"], {
    cwd: dir,
    encoding: "utf8",
  });
  expect(w.stderr).toBe("");
  expect(w.status).toBe(0);
  // `local: protoc-gen-svcgen` is found on PATH, as for a user with the package installed.
  await mkdir(path.join(dir, ".bin"));
  await symlink(shim, path.join(dir, ".bin", "protoc-gen-svcgen"));
  return dir;
}

/** A `DATABASE_URL` nothing listens on: any attempt to connect fails. */
async function closedDatabaseUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
}

/** Runs `svcgen generate` in `dir` as its own process, on the run's database. */
function svcgenGenerate(dir: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "bin/svcgen.js"), "generate"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: serverUrl() },
  });
  return { status: r.status, stderr: r.stderr };
}

/** Runs `buf generate` in `dir` with the plugin on PATH and `databaseUrl` in the environment. */
function bufGenerate(dir: string, databaseUrl: string): { status: number | null; stderr: string } {
  const buf = bufCommand();
  const r = spawnSync(buf.file, [...buf.args, "generate"], {
    cwd: dir,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${path.join(dir, ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      DATABASE_URL: databaseUrl,
      BUF_CACHE_DIR: path.join(tmpdir(), "svcgen-buf-cache"),
    },
  });
  return { status: r.status, stderr: r.stderr };
}

/** Every file under `dir`, by path relative to `base`, with its content. */
async function readTree(base: string, dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (abs: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(abs, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(base, p).split(path.sep).join("/"), await readFile(p, "utf8"));
    }
  };
  await walk(dir);
  return out;
}

afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

describe("buf generate with protoc-gen-svcgen, no database reachable", () => {
  let dir: string;
  let expected: Map<string, string>;
  let bufRun: { status: number | null; stderr: string };

  beforeAll(async () => {
    dir = await makeProject();
    const gen = svcgenGenerate(dir);
    expect(gen.stderr).not.toMatch(/error/);
    expect(gen.status).toBe(0);
    const all = await readTree(dir, path.join(dir, "gen"));
    expected = new Map([...all].filter(([p]) => fromProtos.test(p)));
    // Only the manifest and the query modules stay: the plugin writes the rest again.
    await rm(path.join(dir, "gen/proto"), { recursive: true });
    await rm(path.join(dir, "gen/grpc"), { recursive: true });
    await rm(path.join(dir, "gen/server"), { recursive: true });
    await rm(path.join(dir, "gen/testing"), { recursive: true });
    await rm(path.join(dir, "gen/errors.ts"));
    await rm(path.join(dir, ".svcgen-cache"), { recursive: true, force: true });
    bufRun = bufGenerate(dir, await closedDatabaseUrl());
  });

  test("succeeds", () => {
    expect(bufRun.stderr).toBe("");
    expect(bufRun.status).toBe(0);
  });

  test("writes exactly the gen/proto, gen/grpc, gen/server, gen/testing files and gen/errors.ts of svcgen generate, byte for byte", async () => {
    const written = await readTree(dir, path.join(dir, "gen"));
    const plugin = new Map([...written].filter(([p]) => fromProtos.test(p)));
    expect([...plugin.keys()].sort()).toEqual([
      "gen/errors.ts",
      "gen/grpc/user-service.ts",
      "gen/proto/acme/users/v1/users_pb.ts",
      "gen/proto/buf/validate/validate_pb.ts",
      "gen/proto/svcgen/v1/options_pb.ts",
      "gen/server/all.ts",
      "gen/server/user-service.ts",
      "gen/testing/setup.ts",
      "gen/testing/user-service.ts",
    ]);
    expect([...expected.keys()].sort()).toEqual([...plugin.keys()].sort());
    for (const [p, content] of expected) expect(plugin.get(p), p).toBe(content);
  });

  test("writes no handler skeletons beyond svcgen generate's", async () => {
    expect([...(await readTree(dir, path.join(dir, "src"))).keys()]).toEqual([
      "src/user-service/handlers.ts",
    ]);
  });

  test("without a manifest it fails with one clear error, still touching no database", async () => {
    await rm(path.join(dir, "gen/svcgen-manifest.json"));
    const r = bufGenerate(dir, await closedDatabaseUrl());
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "error SVC300: no manifest at gen/svcgen-manifest.json: the plugin binds RPCs to the queries svcgen generate recorded there",
    );
  });
});

describe("protoc-gen-svcgen errors", () => {
  test("an unknown query fails buf generate with the located diagnostic", async () => {
    const dir = await makeProject();
    expect(svcgenGenerate(dir).status).toBe(0);
    await rm(path.join(dir, "gen/grpc"), { recursive: true });
    const file = path.join(dir, "proto/acme/users/v1/users.proto");
    const text = await readFile(file, "utf8");
    const wrong = text.replace('{query: "DeleteUser"}', '{query: "DeleteUsr"}');
    expect(wrong).not.toBe(text);
    await writeFile(file, wrong);
    const lines = wrong.split("\n");
    const line = lines.findIndex((l) => l.includes('"DeleteUsr"')) + 1;
    const column = (lines[line - 1] ?? "").indexOf("option") + 1;
    const r = bufGenerate(dir, await closedDatabaseUrl());
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`proto/acme/users/v1/users.proto:${line}:${column}: error SVC301: `);
    expect(r.stderr).toContain("DeleteUsr");
    expect(r.stderr).toContain("1 error");
    expect(await readTree(dir, path.join(dir, "gen/grpc"))).toEqual(new Map());
  });

  test("options: config=path, anything else is an error", () => {
    expect(parsePluginOptions("config=a/svcgen.yaml")).toEqual({
      options: { config: "a/svcgen.yaml" },
      diagnostics: [],
    });
    expect(parsePluginOptions("")).toEqual({ options: { config: undefined }, diagnostics: [] });
    const bad = parsePluginOptions("config=,target=ts");
    expect(bad.diagnostics.map((d) => d.message)).toEqual([
      "plugin option config needs a value: config=path/to/svcgen.yaml",
      'unknown plugin option "target=ts"',
    ]);
  });

  test("no svcgen.yaml: the response is one clear error", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "svcgen-plugin-empty-"));
    temps.push(empty);
    const r = await runSvcgenPlugin(create(CodeGeneratorRequestSchema, {}), {
      cwd: empty,
      env: {},
    });
    expect(r.response.file).toEqual([]);
    expect(r.response.error).toBe(
      `error SVC300: no svcgen.yaml in ${empty}\n  hint: pass the plugin option config=path/to/svcgen.yaml (opt: [config=svcgen.yaml] in buf.gen.yaml)\n1 error`,
    );
  });
});

describe("createSvcgenPlugin", () => {
  test("equals generateProto's files for the analysed users fixture, minus the out prefix", async () => {
    const built = await buildProto([path.join(usersProject, "proto")], usersProject);
    if (built.build === undefined) throw new Error(JSON.stringify(built.diagnostics));
    const plugin = createSvcgenPlugin({ model: usersModel, sourcePaths: built.build.sourcePaths });
    const response = plugin.run(
      create(CodeGeneratorRequestSchema, {
        fileToGenerate: [...built.build.userFiles],
        protoFile: [...built.build.files],
        parameter: "config=svcgen.yaml",
      }),
    );
    expect(response.error ?? "").toBe("");
    const ours = await generateProto(protoConfig(usersProject), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(response.file.map((f) => [`gen/${f.name}`, f.content])).toEqual(
      ours.files.map((f) => [f.path, f.content]),
    );
  });
});
