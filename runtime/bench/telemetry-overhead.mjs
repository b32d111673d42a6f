// Overhead of the runtime's observability and auth on a gRPC + PostgreSQL call.
// Usage: npm run build && node runtime/bench/telemetry-overhead.mjs [--seconds 5] [--rounds 3]
//   [--concurrency 32]   (BENCH_DATABASE_URL, else an embedded PostgreSQL is started)
// Configurations, same handler and load, interleaved rounds: plain (hand-written grpc-js + pg),
// (a) metrics + logs + auth, tracing off, (b) plus tracing at 100 %, (c) at 10 %, spans
// exported as OTLP/protobuf to a sink in this process. Prints a Markdown table: median
// throughput, ratio to plain, server CPU per call. Resilience is not in it yet: the generated
// server entry (runtime chain with breakers, bulkheads) replaces the `obs` server when it exists.
import { spawn } from "node:child_process";
import { createSign, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import pg from "pg";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const seconds = arg("seconds", 5);
const rounds = arg("rounds", 3);
const concurrency = arg("concurrency", 32);

let dbUrl = process.env.BENCH_DATABASE_URL;
let embedded;
if (dbUrl === undefined) {
  const { startEmbeddedServer } = await import("../../cli/dist/db/embedded-server.js");
  embedded = await startEmbeddedServer(15);
  dbUrl = embedded.url;
}
const admin = new pg.Client({ connectionString: dbUrl });
await admin.connect();
await admin.query(`CREATE TABLE IF NOT EXISTS bench_users (id int PRIMARY KEY, email text NOT NULL, name text NOT NULL);
  INSERT INTO bench_users SELECT i, 'u' || i || '@example.com', 'User ' || i FROM generate_series(1, 1000) i ON CONFLICT DO NOTHING`);
await admin.end();

// Firebase keys on loopback and a token signed with them.
const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
const publicPem = key.publicKey.export({ type: "spki", format: "pem" }).toString();
const certServer = createServer((_req, res) =>
  res
    .writeHead(200, { "content-type": "application/json", "cache-control": "max-age=3600" })
    .end(JSON.stringify({ k1: publicPem })),
);
await new Promise((r) => certServer.listen(0, "127.0.0.1", r));
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const input = `${b64({ alg: "RS256", kid: "k1", typ: "JWT" })}.${b64({
  iss: "https://securetoken.google.com/bench-project",
  aud: "bench-project",
  sub: "bench-user",
  iat: now - 10,
  auth_time: now - 10,
  exp: now + 3500,
})}`;
const token = `${input}.${createSign("RSA-SHA256").update(input).sign(key.privateKey).toString("base64url")}`;

// OTLP sink: accepts and discards spans.
let otlpBytes = 0;
const sink = createServer((req, res) => {
  req.on("data", (c) => {
    otlpBytes += c.length;
  });
  req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
});
await new Promise((r) => sink.listen(0, "127.0.0.1", r));

const json = {
  serialize: (v) => Buffer.from(JSON.stringify(v)),
  deserialize: (b) => JSON.parse(b.toString()),
};
const Client = grpc.makeGenericClientConstructor({
  getUser: {
    path: "/bench.v1.UserService/GetUser",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
});

const configs = [
  { name: "hand-written grpc-js + pg handler", env: { MODE: "plain" } },
  { name: "(a) metrics + logs + auth, tracing off", env: { MODE: "obs" } },
  { name: "(b) (a) + tracing, 100 % sampling", env: { MODE: "trace", SAMPLE_RATIO: "1" } },
  { name: "(c) (a) + tracing, 10 % sampling", env: { MODE: "trace", SAMPLE_RATIO: "0.1" } },
  // What tracing costs a call that is never sampled: the instrumentation's fixed part.
  { name: "(a) + tracing, 0 % sampling", env: { MODE: "trace", SAMPLE_RATIO: "0" } },
];

async function round(config) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("telemetry-server.mjs", import.meta.url))],
    {
      env: {
        ...process.env,
        ...config.env,
        BENCH_DB: dbUrl,
        CERT_PORT: String(certServer.address().port),
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`,
      },
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value);
  const { port } = await next();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  let stop = 0;
  let calls = 0;
  const worker = async () => {
    while (Date.now() < stop) {
      await new Promise((resolve, reject) =>
        client.getUser({ id: 1 + (calls % 1000) }, md, (e) => (e ? reject(e) : resolve())),
      );
      calls += 1;
    }
  };
  stop = Date.now() + 1000; // warm-up
  await Promise.all(Array.from({ length: concurrency }, worker));
  calls = 0;
  child.stdin.write("mark\n");
  const before = (await next()).cpu;
  const started = Date.now();
  stop = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - started) / 1000;
  child.stdin.write("mark\n");
  const after = (await next()).cpu;
  child.stdin.write("stop\n");
  client.close();
  await new Promise((r) => child.once("exit", r));
  const cpuUs = after.user + after.system - before.user - before.system;
  return { rate: calls / elapsed, cpuPerCall: cpuUs / calls };
}

// --only <i> runs one configuration (profile the server with BENCH_SERVER_FLAGS=--cpu-prof).
const only = arg("only", -1);
const results = configs.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < configs.length; i++) {
    if (only === -1 || only === i) results[i].push(await round(configs[i]));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = results[0].length === 0 ? Number.NaN : median(results[0].map((x) => x.rate));
console.log(
  `| configuration | calls/s (median of ${rounds}) | vs hand-written | server CPU per call |`,
);
console.log("|---|---|---|---|");
configs.forEach((c, i) => {
  if (results[i].length === 0) return;
  const rate = median(results[i].map((x) => x.rate));
  const cpu = median(results[i].map((x) => x.cpuPerCall));
  console.log(
    `| ${c.name} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)}x | ${cpu.toFixed(0)} us |`,
  );
});
console.log(
  `\n${seconds} s per round after 1 s warm-up, ${concurrency} concurrent callers, OTLP bytes received: ${otlpBytes}`,
);
certServer.close();
sink.close();
await embedded?.stop();
