/**
 * protoc-gen-svcgen under the real `buf generate` (node_modules' buf, offline) with the
 * buf.gen.yaml of fixtures/plugin, on a temp copy of the users fixture: the files it writes
 * are byte for byte the files `generateProto` (the proto stage of `svcgen generate`) produces
 * for the same project. The plugin analyses the queries itself through svcgen.yaml against
 * the run's PostgreSQL server.
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../cli/src/config/load-config.js";
import {
  createSvcgenPlugin,
  parsePluginOptions,
  runSvcgenPlugin,
} from "../../cli/src/plugin/svcgen-plugin.js";
import { analyseProject } from "../../cli/src/project.js";
import { bufCommand, buildProto } from "../../cli/src/proto/buf-build.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { serverUrl } from "../db.js";
import { protoConfig, repoRoot, usersProject } from "../proto/proto-fixture.js";
import { usersModel } from "../proto/users-model.js";

const pluginFixture = path.join(repoRoot, "fixtures/plugin");
const temps: string[] = [];

/**
 * A temp project: the users fixture's protos and schema, fixtures/plugin's svcgen.yaml,
 * buf.yaml, buf.gen.yaml and queries, and the includes written by the plugin's shim.
 */
async function makeProject(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "svcgen-plugin-"));
  temps.push(dir);
  await cp(path.join(usersProject, "proto"), path.join(dir, "proto"), { recursive: true });
  await mkdir(path.join(dir, "sql"));
  await cp(path.join(usersProject, "sql/schema.sql"), path.join(dir, "sql/schema.sql"));
  await cp(path.join(pluginFixture, "sql/queries"), path.join(dir, "sql/queries"), {
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

/** Runs `buf generate` in `dir` with the plugin on PATH and the run's database. */
function bufGenerate(dir: string): { status: number | null; stderr: string } {
  const buf = bufCommand();
  const r = spawnSync(buf.file, [...buf.args, "generate"], {
    cwd: dir,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${path.join(dir, ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      DATABASE_URL: serverUrl(),
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

describe("buf generate with protoc-gen-svcgen", () => {
  let dir: string;
  let bufRun: { status: number | null; stderr: string };

  beforeAll(async () => {
    dir = await makeProject();
    // Cold cache: the plugin analyses the queries itself.
    bufRun = bufGenerate(dir);
  });

  test("succeeds", () => {
    // Only the analysis's progress lines ("protoc-gen-svcgen: applying sql/schema.sql").
    expect(bufRun.stderr).not.toMatch(/error|warning|Failure/);
    expect(bufRun.status).toBe(0);
  });

  test("writes exactly the gen/proto and gen/grpc files of svcgen generate, byte for byte", async () => {
    const written = await readTree(dir, path.join(dir, "gen"));
    const loaded = await loadConfig(path.join(dir, "svcgen.yaml"), { DATABASE_URL: serverUrl() });
    if (loaded.config === undefined) throw new Error(JSON.stringify(loaded.diagnostics));
    const analysis = await analyseProject(loaded.config);
    expect(analysis.diagnostics).toEqual([]);
    const proto = await generateProto(loaded.config, analysis.model);
    expect(proto.diagnostics).toEqual([]);
    const expected = new Map(proto.files.map((f) => [f.path, f.content]));
    expect([...written.keys()].sort()).toEqual([
      "gen/grpc/user-service.ts",
      "gen/proto/acme/users/v1/users_pb.ts",
      "gen/proto/buf/validate/validate_pb.ts",
      "gen/proto/svcgen/v1/options_pb.ts",
    ]);
    expect([...expected.keys()].sort()).toEqual([...written.keys()].sort());
    for (const [p, content] of expected) expect(written.get(p), p).toBe(content);
  });

  test("writes no handler skeletons", async () => {
    expect((await readTree(dir, path.join(dir, "src"))).size).toBe(0);
  });
});

describe("protoc-gen-svcgen errors", () => {
  test("an unknown query fails buf generate with the located diagnostic", async () => {
    const dir = await makeProject();
    const file = path.join(dir, "proto/acme/users/v1/users.proto");
    const text = await readFile(file, "utf8");
    const wrong = text.replace('{query: "DeleteUser"}', '{query: "DeleteUsr"}');
    expect(wrong).not.toBe(text);
    await writeFile(file, wrong);
    const lines = wrong.split("\n");
    const line = lines.findIndex((l) => l.includes('"DeleteUsr"')) + 1;
    const column = (lines[line - 1] ?? "").indexOf("option") + 1;
    const r = bufGenerate(dir);
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
  test("equals generateProto's files for the golden users model, minus the out prefix", async () => {
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
