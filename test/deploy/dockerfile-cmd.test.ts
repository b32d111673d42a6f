/**
 * The example's generated Dockerfile, run without Docker: its runtime stage's layout is built in
 * a temporary folder (what each `COPY --from=build` puts there: the compiled `dist/` as
 * `npm run build` makes it, production `node_modules`, `package.json`, the migrations and
 * `deploy/migrate.mjs`), the release step (`node deploy/migrate.mjs`, fly.toml's
 * `release_command`) runs against a real database, then the image's `ENTRYPOINT` + `CMD` run
 * in `WORKDIR` with its `ENV` (ports moved to free ones): every service answers health
 * SERVING, `/readyz` is 200, and SIGTERM (what `docker stop` and Fly.io send; tini forwards it)
 * ends it with exit 0.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { checkHealth, httpStatus } from "../runtime/service-client.js";
import { systemTool } from "../system-tools.js";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const example = join(root, "example-project");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

/** The runtime stage of a Dockerfile: its instructions after the last FROM, continuations joined. */
interface RuntimeStage {
  readonly workdir: string;
  readonly env: Record<string, string>;
  /** `COPY --from=build <src> <dest>`, paths without the build stage's WORKDIR. */
  readonly copies: readonly { readonly src: string; readonly dest: string }[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

function runtimeStage(dockerfile: string): RuntimeStage {
  const lines = dockerfile
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const from = lines.findLastIndex((l) => l.startsWith("FROM "));
  const stage = lines.slice(from + 1);
  const buildWorkdir =
    lines
      .slice(0, from)
      .findLast((l) => l.startsWith("WORKDIR "))
      ?.slice(8) ?? "/";
  const env: Record<string, string> = {};
  const copies: { src: string; dest: string }[] = [];
  let workdir = "/";
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const l of stage) {
    const [op = "", ...rest] = l.split(/\s+/);
    const args = rest.join(" ");
    if (op === "WORKDIR") workdir = args;
    if (op === "ENV") for (const m of args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ""] = m[2] ?? "";
    if (op === "ENTRYPOINT") entrypoint = JSON.parse(args) as string[];
    if (op === "CMD") cmd = JSON.parse(args) as string[];
    if (op === "COPY" && rest.includes("--from=build")) {
      const paths = rest.filter((p) => !p.startsWith("--"));
      const strip = (p: string): string => p.replace(new RegExp(`^${buildWorkdir}/?`), "");
      copies.push({ src: strip(paths[0] ?? ""), dest: paths[1] ?? "" });
    }
  }
  return { workdir, env, copies, entrypoint, cmd };
}

let work: string;
let db: TestDatabase;
let proc: ChildProcess | undefined;
let stage: RuntimeStage;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "svcgen-image-"));
  db = await createTestDatabase("dockerfile_cmd");
  stage = runtimeStage(await readFile(join(example, "deploy/Dockerfile"), "utf8"));
}, 60_000);

afterAll(async () => {
  if (proc?.exitCode === null) proc.kill("SIGKILL");
  await db?.drop();
  await rm(work, { recursive: true, force: true });
});

describe("the Dockerfile's CMD outside Docker", () => {
  test("in the image's layout, after the release step: every service SERVING, SIGTERM exits 0", async () => {
    expect(stage.cmd).toEqual(["node", "dist/gen/server/all.js"]);
    // WORKDIR /app becomes <work>/app; the build stage's outputs are made as `npm run build`
    // and `npm prune --omit=dev` would make them.
    const app = join(work, stage.workdir.replace(/^\//, ""));
    await mkdir(app, { recursive: true });
    const build = join(work, "build");
    await exec(process.execPath, [
      tsc,
      ...["-p", join(example, "tsconfig.json"), "--noEmit", "false", "--outDir", build],
      ...["--rootDir", example, "--declaration", "false", "--sourceMap", "false"],
    ]);
    for (const { src, dest } of stage.copies) {
      const target = join(app, dest.replace(/^\.\//, ""));
      if (src === "dist") await cp(build, target, { recursive: true });
      // The dependencies the project installs (the repository's, with @svcgen/runtime).
      else if (src === "node_modules") await symlink(join(root, "node_modules"), target, "dir");
      // The example has no package.json of its own (it is built from the repository's).
      else if (src === "package.json") {
        await writeFile(target, JSON.stringify({ name: "example", type: "module", private: true }));
      } else await cp(join(example, src), target, { recursive: true });
    }
    expect((await readdir(app)).sort()).toEqual([
      "deploy",
      "dist",
      "migrations",
      "node_modules",
      "package.json",
    ]);

    // The release step, as fly.toml runs it before the new machines start.
    const release = await exec(process.execPath, ["deploy/migrate.mjs"], {
      cwd: app,
      env: { ...process.env, DATABASE_URL: db.url },
    });
    expect(release.stdout).toContain('"msg":"migrations applied"');

    // ENTRYPOINT (tini as PID 1, forwarding signals) + CMD, in WORKDIR, with the image's ENV.
    const tini = systemTool("tini", "apt-get install tini");
    const entrypoint = tini === undefined ? [] : [tini, ...stage.entrypoint.slice(1)];
    if (tini !== undefined) expect(stage.entrypoint[0]).toBe("/usr/bin/tini");
    const [command = "", ...args] = [...entrypoint, ...stage.cmd];
    proc = spawn(command === "node" ? process.execPath : command, args, {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        ...stage.env,
        HOST: "127.0.0.1",
        PORT: "0",
        HTTP_PORT: "0",
        DATABASE_URL: db.url,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr?.on("data", (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => proc?.on("exit", (c) => resolve(c)));
    const listening = await new Promise<{ grpc: string; http: string; services: string[] }>(
      (resolve, reject) => {
        createInterface({ input: proc?.stdout ?? process.stdin }).on("line", (line) => {
          if (line.includes('"msg":"listening"')) resolve(JSON.parse(line));
        });
        void exited.then((c) => reject(new Error(`exited ${c} before listening:\n${stderr}`)));
      },
    );
    expect(listening.services).toHaveLength(5);
    expect(await checkHealth(listening.grpc)).toBe("SERVING");
    for (const s of listening.services)
      expect(await checkHealth(listening.grpc, s)).toBe("SERVING");
    expect(await httpStatus(listening.http, "/readyz")).toBe(200);

    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 180_000);
});
