/**
 * The example project is produced by svcgen from its inputs (migrations, queries, protos) and
 * its hand-written handlers (src/, created as skeletons by svcgen and then edited):
 * regenerating it from scratch (no cache) must reproduce the committed gen/ and deployment
 * files byte for byte and leave the handlers exactly as they are (every RPC has its method, so
 * no stub is added), and the whole project must compile under the strict flags.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { credentials, Client as GrpcClient, status } from "@grpc/grpc-js";
import { createTestDatabase as createKitDatabase } from "@svcgen/runtime/testing";
import { afterAll, describe, expect, it } from "vitest";
import { testDatabases } from "../example-project/gen/testing/setup.js";
import { runCli } from "./cli/cli-project.js";
import { serverUrl } from "./db.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const exampleDir = join(root, "example-project");
const work = await mkdtemp(join(tmpdir(), "svcgen-example-"));

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out.sort();
}

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("example project", () => {
  it("regenerates from scratch to exactly the committed files", async () => {
    for (const part of ["svcgen.yaml", "migrations", "queries", "proto", "src"]) {
      await cp(join(exampleDir, part), join(work, part), { recursive: true });
    }
    const { code, err } = await runCli(work, ["generate", "--no-cache"], {
      DATABASE_URL: serverUrl(),
    });
    // Standard error carries progress lines only: any diagnostic, even a warning, fails this.
    const unexpected = err
      .split("\n")
      .filter((line) => line !== "" && !/^applying migrations\/[\w/.-]+\.sql$/.test(line));
    expect(unexpected).toEqual([]);
    expect(code).toBe(0);
    // gen/ is svcgen's; src/ holds the handlers (svcgen would add a stub for an RPC without
    // one, and must change nothing else); deploy/ and .github/ the deployment files
    // (`deploy:` in svcgen.yaml).
    for (const part of ["gen", "src", "deploy", ".github"]) {
      const want = await filesUnder(join(exampleDir, part));
      const got = await filesUnder(join(work, part));
      expect(want.length, part).toBeGreaterThan(0);
      expect(got.map((f) => relative(work, f))).toEqual(want.map((f) => relative(exampleDir, f)));
      for (const f of want) {
        const rel = relative(exampleDir, f);
        expect(await readFile(join(work, rel), "utf8"), rel).toBe(await readFile(f, "utf8"));
      }
    }
  });

  it("compiles under the strict flags", async () => {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const r = await run("node", [tsc, "-p", join(exampleDir, "tsconfig.json")]).then(
      () => ({ code: 0, out: "" }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  it("the compile check covers the server entries and the error map", async () => {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const r = await run("node", [tsc, "-p", join(exampleDir, "tsconfig.json"), "--listFilesOnly"]);
    const files = r.stdout.split("\n").map((f) => relative(exampleDir, f.trim()));
    for (const f of [
      "gen/errors.ts",
      "gen/server/all.ts",
      "gen/server/auth-service.ts",
      "gen/server/data-service.ts",
      "gen/server/file-service.ts",
      "gen/server/notification-service.ts",
      "gen/server/user-service.ts",
      "gen/testing/setup.ts",
      "gen/testing/user-service.ts",
    ]) {
      expect(files, f).toContain(f);
    }
  });

  it("gen/server/all.ts serves the five services in one process", async () => {
    // A database from the example's own test kit: a copy of its migrated template.
    const db = await createKitDatabase(testDatabases);
    const all = (await import("../example-project/gen/server/all.js")) as {
      start(o: object): Promise<{ grpcAddress: string; close(): Promise<void> }>;
    };
    const handle = await all.start({
      env: { DATABASE_URL: db.url },
      settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
      logger: { info() {}, warn() {}, error() {} },
    });
    const client = new GrpcClient(handle.grpcAddress, credentials.createInsecure());
    try {
      const call = (path: string, body: Buffer) =>
        new Promise<{ code: number; reply?: Buffer }>((resolve) => {
          client.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            body,
            { deadline: Date.now() + 5000 },
            (err, reply) =>
              resolve(
                err === null
                  ? { code: status.OK, ...(reply ? { reply } : {}) }
                  : { code: err.code },
              ),
          );
        });
      for (const service of [
        "example.auth.v1.AuthService",
        "example.user.v1.UserService",
        "example.data.v1.DataService",
        "example.file.v1.FileService",
        "example.notifications.v1.NotificationService",
      ]) {
        // HealthCheckRequest { service } -> HealthCheckResponse { status: SERVING }; NOT_SERVING
        // until the first database probe answers, so ask again for a few seconds.
        const name = Buffer.from(service);
        const request = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
        let health = await call("/grpc.health.v1.Health/Check", request);
        for (let i = 0; i < 50 && health.reply?.[1] !== 1; i++) {
          await new Promise((r) => setTimeout(r, 100));
          health = await call("/grpc.health.v1.Health/Check", request);
        }
        expect(health, service).toEqual({ code: status.OK, reply: Buffer.from([0x08, 0x01]) });
      }
      // A method that needs a caller, called anonymously: the auth step of the chain answers.
      const anonymous = await call("/example.user.v1.UserService/GetMyProfile", Buffer.alloc(0));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    } finally {
      client.close();
      await handle.close();
      await db.drop();
    }
  });
});
