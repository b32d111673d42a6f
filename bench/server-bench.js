/**
 * `node bench/server-bench.js`: the runtime's server against a hand-written grpc-js + pg
 * handler, same query (the example UserService's GetProfile, a `:one` lookup by primary
 * key), same load, same run; then the runtime server through a 5 s database outage.
 * Configurations (one process each): the hand-written handler; the runtime with every
 * resilience feature on and telemetry off (issue 8's row); (a) plus metrics, call log and
 * JWKS auth from the environment, tracing off; (b) plus tracing (the register preload) at
 * 100 % sampling; (c) at 10 %; with --zero also 0 % (the instrumentation's fixed cost). Spans
 * go as OTLP/protobuf to a sink in this process; every call carries a real RS256 token.
 *
 *   node bench/server-bench.js [--seconds 3] [--rounds 3] [--concurrency 32] [--no-outage]
 *     [--only plain,a] [--zero] [--async] [--no-write] [--svcgen-load]
 *
 * --svcgen-load: in every round, right after this script's own client loads a server,
 * `svcgen load` (the built CLI in its own process, as a user runs it) puts the same load on the
 * same server (same method and ids, same concurrency on one channel, same token, same seconds
 * after a 1 s warm-up), then this script's client runs once more (A, B, A: a drift of the
 * machine's load cancels out), and a second table compares the two clients: throughput ratio
 * per round (median), p50, and each client's CPU per call.
 *
 * Each server runs in its own child process (its CPU time read with process.cpuUsage over
 * IPC); the load generator runs here. Rounds alternate A, B, A, B so drift hits both. Uses a
 * PostgreSQL server it starts itself (`@svcgen/runtime/embedded-postgres`, in a temporary
 * folder); the bundles and the ids go to bench/work/server/.
 * Needs `npm run build` first. Prints a Markdown table and writes bench/server-results.md.
 */
import { execFile, fork } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { credentials, Metadata, makeGenericClientConstructor, status } from "@grpc/grpc-js";
import { startEmbeddedPostgres } from "@svcgen/runtime/embedded-postgres";
import { build } from "esbuild";
import { exportJWK, SignJWT } from "jose";
import pg from "pg";

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

// --- A PostgreSQL server this script owns (the outage scenario pauses and resumes it). ---
const pgServer = await startEmbeddedPostgres({
  folderPrefix: "svcgen-bench-pg-",
  // Up to 11 servers with 10 connections each (with --baseline), plus the outage callers;
  // synchronous commits, so that a write acknowledged before the outage counts as kept.
  settings: { synchronous_commit: "on", max_connections: "300" },
});
const url = pgServer.url;
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
const withSvcgenLoad = args.includes("--svcgen-load");
const idsFile = join(work, "ids.jsonl");
writeFileSync(idsFile, ids.map((id) => JSON.stringify({ id })).join("\n"));

// --- The two servers, bundled (example-project is TypeScript; packages stay external). ---
// --baseline <dir>: also run every runtime configuration against another build of the
// runtime (a directory holding its package.json and dist/, e.g. a copy of main's), in the
// same rounds, so a change is measured as a ratio against what it replaces.
const baselineArg = args.includes("--baseline")
  ? resolvePath(args[args.indexOf("--baseline") + 1])
  : undefined;
const toBaseline = {
  name: "runtime-baseline",
  setup(b) {
    b.onResolve({ filter: /^@svcgen\/runtime(\/.*)?$/ }, (a) => {
      const sub = a.path.slice("@svcgen/runtime".length);
      const exports = JSON.parse(readFileSync(join(baselineArg, "package.json"), "utf8")).exports;
      const target = exports[`.${sub}`]?.default;
      return { path: join(baselineArg, target), external: true };
    });
  },
};
for (const [name, out, plugins] of [
  ["runtime-server", "runtime-server", []],
  ["plain-server", "plain-server", []],
  ...(baselineArg === undefined ? [] : [["runtime-server", "baseline-server", [toBaseline]]]),
]) {
  await build({
    entryPoints: [join(root, "bench", "server", `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    plugins,
    target: "node20",
    outfile: join(work, `${out}.mjs`),
    logLevel: "error",
  });
}

// --- Auth keys on loopback (JWKS) and a token every call carries; an OTLP sink. ---
const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...(await exportJWK(key.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
const listen = async (server) => {
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${server.address().port}`;
};
const keyServer = createServer((_req, res) =>
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })),
);
const jwksUrl = `${await listen(keyServer)}/jwks.json`;
let otlpBytes = 0;
const otlpSink = createServer((req, res) => {
  req.on("data", (c) => {
    otlpBytes += c.length;
  });
  req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
});
const otlpUrl = await listen(otlpSink);
const token = await new SignJWT({ roles: [] })
  .setProtectedHeader({ alg: "RS256", kid: "k1" })
  .setIssuer("https://issuer.bench.test")
  .setAudience("bench")
  .setSubject("bench-user")
  .setIssuedAt()
  .setExpirationTime("2h")
  .sign(key.privateKey);

const fullEnv = {
  BENCH_MODE: "full",
  AUTH_JWKS_URL: jwksUrl,
  AUTH_ISSUER: "https://issuer.bench.test",
  AUTH_AUDIENCE: "bench",
  LOG_LEVEL: "info",
};
const traced = (ratio) => ({
  ...fullEnv,
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
  OTEL_SERVICE_NAME: "bench",
  SVCGEN_TRACE_SAMPLE_RATIO: String(ratio),
});
const register = ["--import", "@svcgen/runtime/telemetry/register"];
const allConfigs = [
  { id: "plain", name: "hand-written grpc-js + pg handler", file: "plain-server", env: {} },
  {
    id: "runtime",
    name: "runtime, all resilience on, telemetry off (issue 8)",
    file: "runtime-server",
    env: { BENCH_MODE: "resilience" },
  },
  {
    id: "a",
    name: "(a) resilience + metrics + logs + auth, tracing off",
    file: "runtime-server",
    env: fullEnv,
  },
  {
    id: "b",
    name: "(b) everything on, tracing 100 % sampling",
    file: "runtime-server",
    env: traced(1),
    execArgv: register,
  },
  {
    id: "c",
    name: "(c) everything on, tracing 10 % sampling",
    file: "runtime-server",
    env: traced(0.1),
    execArgv: register,
  },
  {
    id: "zero",
    name: "everything on, tracing 0 % sampling (fixed cost)",
    file: "runtime-server",
    env: traced(0),
    execArgv: register,
  },
];
// --async: (b) and 0 % again with AsyncLocalStorage context propagation (SVCGEN_TRACE_CONTEXT=async).
const asyncTraced = (ratio) => ({ ...traced(ratio), SVCGEN_TRACE_CONTEXT: "async" });
allConfigs.push(
  {
    id: "basync",
    name: "(b) with SVCGEN_TRACE_CONTEXT=async (AsyncLocalStorage)",
    file: "runtime-server",
    env: asyncTraced(1),
    execArgv: register,
  },
  {
    id: "zasync",
    name: "0 % sampling with SVCGEN_TRACE_CONTEXT=async",
    file: "runtime-server",
    env: asyncTraced(0),
    execArgv: register,
  },
);
if (baselineArg !== undefined) {
  const registerBaseline = ["--import", join(baselineArg, "dist", "telemetry", "register.js")];
  for (const c of allConfigs.filter((x) => x.file === "runtime-server")) {
    allConfigs.push({
      ...c,
      id: `${c.id}-base`,
      name: `${c.name} [baseline]`,
      file: "baseline-server",
      ...(c.execArgv === undefined ? {} : { execArgv: registerBaseline }),
    });
  }
}
const onlyArg = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : undefined;
const baseId = (id) => id.replace(/-base$/, "");
const configs = allConfigs
  .filter((c) =>
    onlyArg !== undefined
      ? onlyArg.includes(baseId(c.id))
      : (baseId(c.id) !== "zero" || args.includes("--zero")) &&
        (!["basync", "zasync"].includes(baseId(c.id)) || args.includes("--async")),
  )
  // A configuration next to its baseline, so both see the same moment of a drifting machine.
  .sort(
    (p, q) =>
      allConfigs.indexOf(allConfigs.find((x) => x.id === baseId(p.id))) -
      allConfigs.indexOf(allConfigs.find((x) => x.id === baseId(q.id))),
  );

function startChild(config) {
  const name = config.file;
  const child = fork(join(work, `${name}.mjs`), [], {
    cwd: root,
    // BENCH_CPU_PROF=1 writes each server's CPU profile to bench/work/server/prof/.
    execArgv: [
      ...(config.execArgv ?? []),
      ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", join(work, "prof")] : []),
    ],
    env: {
      ...process.env,
      ...config.env,
      BENCH_CONFIG: config.id,
      DATABASE_URL: url,
      HOST: "127.0.0.1",
      PORT: "0",
      HTTP_PORT: "0",
    },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line !== undefined) {
        child.stdout.off("data", onData);
        child.stdout.resume();
        resolve({ child, address: JSON.parse(line).grpc });
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

function ask(child, message) {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m));
    child.send(message);
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
  md.set("authorization", `Bearer ${token}`);
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

/**
 * `svcgen load` on the same load as {@link load}: GetProfile over the same ids, `concurrency`
 * calls in flight on one channel, the same token, `ms` after a 1 s uncounted warm-up; its
 * JSON report.
 */
function svcgenLoad(address, ms) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        join(root, "bin", "svcgen.js"),
        "-c",
        join(root, "example-project", "svcgen.yaml"),
        "load",
        "UserService.GetProfile",
        "--data",
        '{"userId": "{{id}}"}',
        "--values",
        idsFile,
        "--concurrency",
        String(concurrency),
        "--per-channel",
        String(concurrency),
        "--duration",
        String(ms / 1000),
        "--warmup",
        "1",
        "--timeout",
        "5000",
        "--target",
        address,
        "--token",
        token,
        "-H",
        "x-uid: bench-user",
        "--json",
      ],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
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

const servers = {};
for (const c of configs) servers[c.id] = await startChild(c);
// Let the runtime's health probe pass and the keys load before load.
await new Promise((r) => setTimeout(r, 1500));
const totals = {};
for (const c of configs)
  totals[c.id] = { calls: 0, ms: 0, lat: [], cpuUs: 0, errors: 0, rounds: [], vsLoad: [] };
for (const c of configs) await load(servers[c.id].address, 1500); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const c of configs) {
    const name = c.id;
    const profiling = process.env.BENCH_PROFILE !== undefined;
    if (profiling) await ask(servers[name].child, "prof-start");
    const before = (await cpuOf(servers[name].child)).cpu;
    const ownCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { latencies, errors } = await load(servers[name].address, seconds * 1000);
    const elapsed = performance.now() - t0;
    const ownCpu = process.cpuUsage(ownCpu0);
    const after = (await cpuOf(servers[name].child)).cpu;
    if (withSvcgenLoad) {
      const report = await svcgenLoad(servers[name].address, seconds * 1000);
      // A, B, A: this client again right after, so that a drift of the machine's load during
      // the two runs cancels out; svcgen load is compared with the mean of both.
      const t1 = performance.now();
      const again = await load(servers[name].address, seconds * 1000);
      const againRps = (again.latencies.length / (performance.now() - t1)) * 1000;
      const benchRps = ((latencies.length / elapsed) * 1000 + againRps) / 2;
      totals[name].vsLoad.push({
        benchRps,
        benchP50: pct(latencies, 50),
        benchCpu: (ownCpu.user + ownCpu.system) / latencies.length,
        loadRps: report.throughput,
        loadP50: report.latencyMs.p50,
        loadCpu: report.clientCpu.usPerCall,
        loadCore: report.clientCpu.coreShare,
        loadNotOk: report.calls - (report.statuses.OK ?? 0),
        ratio: report.throughput / benchRps,
      });
    }
    if (profiling) console.error((await ask(servers[name].child, "prof-stop")).profile);
    const t = totals[name];
    const cpuUs = after.user - before.user + after.system - before.system;
    t.calls += latencies.length;
    t.ms += elapsed;
    t.lat.push(...latencies);
    t.errors += errors;
    t.cpuUs += cpuUs;
    t.rounds.push({ rps: (latencies.length / elapsed) * 1000, cpu: cpuUs / latencies.length });
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
    rounds: t.rounds,
  };
};
const rows = Object.fromEntries(configs.map((c) => [c.id, row(c.id)]));
for (const c of configs) if (c.id !== "runtime") servers[c.id].child.kill("SIGTERM");

// --- Outage: 50 callers (reads and writes, 1 s deadline), database stopped for 5 s. ---
let outage;
if (!args.includes("--no-outage") && servers.runtime !== undefined) {
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
  await pgServer.pause();
  await new Promise((r) => setTimeout(r, 5000));
  await pgServer.resume();
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
const snapshot =
  servers.runtime === undefined ? undefined : (await cpuOf(servers.runtime.child)).snapshot;
servers.runtime?.child.kill("SIGTERM");
keyServer.close();
otlpSink.close();
await new Promise((r) => setTimeout(r, 500));
await pgServer.stop();

const f = (x, d = 1) => x.toFixed(d);
const med = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const plain = rows.plain;
// On a loaded machine the load drifts within seconds: each configuration is compared with
// the hand-written server of the same round, and the table gives the median of those ratios.
const ratio = (x, pick) =>
  plain === undefined ? undefined : med(x.rounds.map((r, i) => pick(r) / pick(plain.rounds[i])));
const lines = [
  `Runtime server vs hand-written grpc-js + pg, GetProfile (\`:one\` by primary key), ${concurrency} concurrent callers, ${rounds} rounds x ${seconds} s per server (each round runs every server in turn), ${cpus().length} CPUs, Node ${process.version}. Every call carries an RS256 token (verified in (a)-(c)); spans exported as OTLP/protobuf to a sink in the load process (${otlpBytes} bytes received). Ratios: median over rounds of (configuration / hand-written in the same round).`,
  "",
  `| server | calls/s (median) | throughput vs hand-written | p50 ms | p99 ms | server CPU µs/call (median) | CPU/call vs hand-written | errors | per round: calls/s / µs per call |${baselineArg === undefined ? "" : " vs baseline: calls/s / CPU per call |"}`,
  `|---|---|---|---|---|---|---|---|---|${baselineArg === undefined ? "" : "---|"}`,
  ...configs.map((c) => {
    const x = rows[c.id];
    const base = rows[`${c.id}-base`];
    const per = x.rounds.map((r) => `${f(r.rps, 0)}/${f(r.cpu, 0)}`).join(", ");
    const vs = ratio(x, (r) => r.rps);
    const cpuVs = ratio(x, (r) => r.cpu);
    // Against the baseline build in the same rounds (only with --baseline).
    const vsBase =
      base === undefined
        ? ""
        : ` | ${f(med(x.rounds.map((r, i) => r.rps / base.rounds[i].rps)), 2)}x / ${f(med(x.rounds.map((r, i) => r.cpu / base.rounds[i].cpu)), 2)}x`;
    const noBase = baselineArg !== undefined && base === undefined ? " | " : "";
    return `| ${c.name} | ${f(med(x.rounds.map((r) => r.rps)), 0)} | ${vs === undefined ? "" : `${f(vs, 2)}x`} | ${f(x.p50, 2)} | ${f(x.p99, 2)} | ${f(med(x.rounds.map((r) => r.cpu)), 0)} | ${cpuVs === undefined ? "" : `${f(cpuVs, 2)}x`} | ${x.errors} | ${per}${vsBase}${noBase} |`;
  }),
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
    `Recovery (database accepting connections -> first OK call): ${outage.recoveryMs ?? "none"} ms. Writes answered OK: ${outage.okWrites}; missing from the database: ${outage.lost}. Retries: ${snapshot?.retries}.`,
  );
}
if (withSvcgenLoad) {
  lines.push(
    "",
    `\`svcgen load\` vs this benchmark's client, same server, same round: GetProfile over the same ${ids.length} ids, ${concurrency} calls in flight on one channel, ${seconds} s each (svcgen load after a 1 s warm-up, in its own process, as a user runs it). Each round runs the benchmark client, then svcgen load, then the benchmark client again; ratio: median over rounds of (svcgen load calls/s / mean of the two benchmark client runs around it). Client CPU: each client process's user + system time per call.`,
    "",
    "| server | benchmark client calls/s (median) | svcgen load calls/s (median) | ratio (median) | per-round ratios | p50 ms bench / load | client CPU µs/call bench / load | svcgen load core share | svcgen load non-OK |",
    "|---|---|---|---|---|---|---|---|---|",
    ...configs.map((c) => {
      const v = totals[c.id].vsLoad;
      const m = (pick) => med(v.map(pick));
      return `| ${c.name} | ${f(
        m((x) => x.benchRps),
        0,
      )} | ${f(
        m((x) => x.loadRps),
        0,
      )} | ${f(
        m((x) => x.ratio),
        2,
      )}x | ${v.map((x) => f(x.ratio, 2)).join(", ")} | ${f(
        m((x) => x.benchP50),
        2,
      )} / ${f(
        m((x) => x.loadP50),
        2,
      )} | ${f(
        m((x) => x.benchCpu),
        0,
      )} / ${f(
        m((x) => x.loadCpu),
        0,
      )} | ${f(m((x) => x.loadCore) * 100, 0)} % | ${v.reduce((n, x) => n + x.loadNotOk, 0)} |`;
    }),
  );
}
const text = `${lines.join("\n")}\n`;
process.stdout.write(text);
if (!args.includes("--no-write"))
  writeFileSync(join(root, "bench", "server-results.md"), `# Server benchmark\n\n${text}`);
process.exit(0);
