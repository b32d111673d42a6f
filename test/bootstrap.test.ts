/**
 * The path a new user takes, with the packages as npm would ship them: `npm pack` svcgen and
 * @svcgen/runtime, install both tarballs into a fresh project outside this repository (one
 * `npm install`, from the registry for everything else), then `svcgen init`, `svcgen generate`,
 * `npm run build` and the `npm start` script against the run's PostgreSQL with the scaffolded migration
 * applied, and call the service: health SERVING over gRPC, `/readyz` 200, the RPCs answer; and
 * `npm test`, which runs the scaffolded test on the generated test kit over an embedded
 * PostgreSQL (no DATABASE_URL).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { credentials, Client as GrpcClient } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { scaffoldDependencies } from "../cli/src/commands/init-command.js";
import { version } from "../cli/src/version.js";
import { createTestDatabase, serverUrl, type TestDatabase } from "./db.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let work: string;
let app: string;
let db: TestDatabase;
let server: ChildProcess | undefined;
let exited: Promise<number | null>;
let listening: { grpc: string; http: string };
const log: string[] = [];

/** Runs a command in the app folder; the output goes to the log shown on failure. */
async function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const r = await run(cmd, args, {
      cwd: app,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    log.push(`$ ${cmd} ${args.join(" ")}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`,
    );
  }
}

interface Entry {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly listening: { grpc: string; http: string };
  /** Everything it wrote to stdout so far. */
  output(): string;
}

/** Runs a compiled entry with node on free loopback ports; resolves at its "listening" line. */
async function startEntry(args: string[], env: NodeJS.ProcessEnv): Promise<Entry> {
  const child = spawn(process.execPath, args, {
    cwd: app,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      HOST: "127.0.0.1",
      PORT: "0",
      HTTP_PORT: "0",
      SHUTDOWN_GRACE_MS: "2000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  child.stderr?.on("data", (d: Buffer) => log.push(d.toString()));
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const listening = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line:\n${out}`)), 30_000);
    const look = (): void => {
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { grpc: string; http: string });
    };
    child.stdout?.on("data", look);
    void exited.then((code) => reject(new Error(`${args.join(" ")} exited ${code}:\n${out}`)));
  });
  return { process: child, exited, listening, output: () => out };
}

/** The project's compiled client module (its own copy of grpc-js, from its node_modules). */
async function userClientModule() {
  return (await import(
    pathToFileURL(join(app, "dist", "gen", "grpc", "user-service.js")).href
  )) as {
    createUserServiceClient(address: string): {
      createUser(r: {
        email: string;
        displayName?: string;
      }): Promise<{ id: bigint; email: string }>;
      getUser(r: { id: bigint }): Promise<{ id: bigint; email: string; displayName?: string }>;
      close(): void;
    };
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "svcgen-bootstrap-"));
  // As root, npm test's embedded PostgreSQL runs as the postgres user, who must reach the
  // project's node_modules (mkdtemp makes the folder 0700).
  await chmod(work, 0o755);
  app = join(work, "app");
  await mkdir(app);
  // The packages as published: built, then packed with their `files` lists.
  await run(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-b", "runtime", "cli"],
    {
      cwd: root,
    },
  );
  await run(npm, ["pack", "--pack-destination", work, "--silent"], { cwd: root });
  await run(npm, ["pack", "--pack-destination", work, "--silent"], { cwd: join(root, "runtime") });
  const tarballs = (await readdir(work)).filter((f) => f.endsWith(".tgz")).sort();
  expect(tarballs).toEqual([`svcgen-${version}.tgz`, `svcgen-runtime-${version}.tgz`]);

  // A fresh project; one install: the two tarballs and, at the exact versions init will
  // write, the peers and build tools (so init's package.json matches what is installed).
  await writeFile(
    join(app, "package.json"),
    `${JSON.stringify({ name: "bootstrap-app", version: "1.0.0", private: true }, null, 2)}\n`,
  );
  const deps = scaffoldDependencies();
  const others = Object.entries({ ...deps.dependencies, ...deps.devDependencies })
    .filter(([name]) => name !== "svcgen" && name !== "@svcgen/runtime")
    .map(([name, v]) => `${name}@${v}`);
  await sh(npm, [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--save-exact",
    "--loglevel=error",
    ...tarballs.map((t) => join(work, t)),
    ...others,
  ]);

  const bin = join(app, "node_modules", ".bin", "svcgen");
  await sh(bin, ["init"]);
  db = await createTestDatabase(
    "bootstrap",
    await readFile(join(app, "migrations", "001_init.sql"), "utf8"),
  );
  await sh(bin, ["generate"], { DATABASE_URL: serverUrl() });
  await sh(npm, ["run", "build", "--silent"]);

  // The start script's command itself rather than through npm, so that the signal test below
  // reaches the server process (npm forwards it, then ends by the signal, without a code).
  const pkg = JSON.parse(await readFile(join(app, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = (pkg.scripts.start ?? "").split(" ");
  expect(command).toBe("node");
  const started = await startEntry(args, {});
  server = started.process;
  exited = started.exited;
  listening = started.listening;
}, 600_000);

afterAll(async () => {
  if (server?.exitCode === null) {
    server.kill("SIGKILL");
    await exited;
  }
  await db?.drop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("npm pack, install, init, generate, build, start", () => {
  test("init wrote a package.json that matches what is installed", async () => {
    const pkg = JSON.parse(await readFile(join(app, "package.json"), "utf8")) as {
      type: string;
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.type).toBe("module");
    expect(pkg.scripts.start).toBe("node dist/gen/server/all.js");
    for (const [name, v] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      const installed = JSON.parse(
        await readFile(join(app, "node_modules", name, "package.json"), "utf8"),
      ) as { version: string };
      // The tarballs are listed by path (as npm records them), everything else exactly.
      if (v.startsWith("file:")) expect(installed.version, name).toBe(version);
      else expect(installed.version, name).toBe(v);
    }
  });

  test("the server logs one listening line with both addresses", () => {
    expect(listening.grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listening.http).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test("health is SERVING over gRPC and /readyz answers 200", async () => {
    const client = new GrpcClient(listening.grpc, credentials.createInsecure());
    const check = () =>
      new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          { deadline: Date.now() + 5000 },
          (err, value) =>
            err !== null || value === undefined
              ? reject(err ?? new Error("no reply"))
              : resolve(value),
        );
      });
    try {
      // NOT_SERVING until the first database probe answers: ask again for a few seconds.
      let reply = await check();
      for (let i = 0; i < 50 && reply[1] !== 1; i++) {
        await sleep(100);
        reply = await check();
      }
      // HealthCheckResponse { status: SERVING (1) }.
      expect([...reply]).toEqual([0x08, 0x01]);
    } finally {
      client.close();
    }
    const ready = await fetch(`http://${listening.http}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("the bound RPCs answer through the generated client", async () => {
    const client = (await userClientModule()).createUserServiceClient(listening.grpc);
    try {
      const created = await client.createUser({ email: "ada@example.com", displayName: "Ada" });
      expect(created.email).toBe("ada@example.com");
      const got = await client.getUser({ id: created.id });
      expect(got).toMatchObject({ id: created.id, email: "ada@example.com", displayName: "Ada" });
      const duplicate = await client.createUser({ email: "ada@example.com" }).then(
        () => undefined,
        (e: { code: number; details: string }) => e,
      );
      // The generated error map: ALREADY_EXISTS, with the scaffold's own words.
      expect(duplicate?.code).toBe(6);
      expect(duplicate?.details).toBe("A user with this email already exists");
    } finally {
      client.close();
    }
  });

  test("a service's own entry, run with node, is traced from its telemetry preload", async () => {
    // Console span exporter: spans appear on stdout only if grpc-js and pg were loaded after
    // the preload registered the loader hook.
    const entry = await startEntry(["dist/gen/server/user-service.js"], {
      OTEL_TRACES_EXPORTER: "console",
      OTEL_SERVICE_NAME: "bootstrap-users",
    });
    try {
      const client = (await userClientModule()).createUserServiceClient(entry.listening.grpc);
      try {
        const created = await client.createUser({ email: "grace@example.com" });
        expect((await client.getUser({ id: created.id })).email).toBe("grace@example.com");
      } finally {
        client.close();
      }
      const deadline = Date.now() + 15_000;
      // The server span is the runtime adapter's (scope @svcgen/runtime); the SQL span is the
      // pg instrumentation's, which only an ESM process with the loader hook registered gets.
      const traced = (): boolean =>
        entry.output().includes("name: 'grpc.app.v1.UserService/GetUser'") &&
        entry.output().includes("@opentelemetry/instrumentation-pg");
      while (!traced() && Date.now() < deadline) await sleep(100);
      expect(traced(), entry.output().slice(-2000)).toBe(true);
    } finally {
      entry.process.kill("SIGTERM");
      expect(await entry.exited).toBe(0);
    }
  }, 60_000);

  test("npm test passes the scaffolded test on the kit, with only Node: an embedded PostgreSQL, no DATABASE_URL", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ["DATABASE_URL", "SVCGEN_TEST_DATABASE_URL", "SVCGEN_TEST_TEMPLATE"]) {
      delete env[name];
    }
    let out: string;
    try {
      const r = await run(npm, ["test"], { cwd: app, env, maxBuffer: 64 * 1024 * 1024 });
      out = `${r.stdout}${r.stderr}`;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`npm test failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
    log.push(`$ npm test\n${out}`);
    // The four cases of test/user-service.test.ts: a bound RPC, an auth rule, a deadline, an outage.
    expect(out).toMatch(/^# tests 4$/m);
    expect(out).toMatch(/^# pass 4$/m);
    expect(out).toMatch(/^# fail 0$/m);
    for (const name of ["a bound RPC", "an auth rule", "a deadline", "an outage"]) {
      expect(out).toMatch(new RegExp(`^ok \\d+ - ${name}`, "m"));
    }
  }, 300_000);

  test("SIGTERM shuts the server down with exit code 0", async () => {
    server?.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 30_000);
});
