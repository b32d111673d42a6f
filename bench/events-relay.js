/**
 * Throughput of the events layer: `node bench/events-relay.js [--events 20000]`.
 *
 * For each transport (PostgreSQL LISTEN/NOTIFY log, NATS JetStream at 127.0.0.1:4222 when it
 * answers): N events are written to the outbox first (100 per producer transaction, payloads
 * of 64 bytes), then the relay is timed delivering all of them (`drain()`, one relay, batch
 * size 100 and 500), then one consumer group is timed processing them all (the processed-events
 * insert plus an empty handler, one transaction per event). Needs `npm run build`; uses
 * DATABASE_URL when set, else starts an embedded PostgreSQL 15.
 */
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import pg from "pg";
import { startEmbeddedServer } from "../cli/dist/db/embedded-server.js";
import {
  createNatsTransport,
  createPostgresTransport,
  eventsMigrationSql,
  startConsumer,
  startRelay,
  writeEvent,
} from "../runtime/dist/events/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const total = arg("--events", 20_000);

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function natsReachable() {
  const { connect } = await import("nats");
  try {
    const nc = await connect({ servers: "127.0.0.1:4222", timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

async function freshDatabase(serverUrl, name) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: withDatabase(serverUrl, name), max: 8 });
  // pool.end() resolves before its sockets close; stopping the server right after would raise
  // "terminating connection" on a client the pool still listens to.
  pool.on("error", () => {});
  await pool.query(eventsMigrationSql);
  return pool;
}

async function fillOutbox(pool, n) {
  const payload = randomBytes(64);
  const client = await pool.connect();
  for (let done = 0; done < n; done += 100) {
    await client.query("BEGIN");
    for (let i = done; i < Math.min(n, done + 100); i++) {
      await writeEvent(client, { topic: "bench.created", key: `k${i % 50}`, payload });
    }
    await client.query("COMMIT");
  }
  client.release();
}

async function measure(serverUrl, kind, batchSize) {
  const suffix = randomBytes(3).toString("hex");
  const pool = await freshDatabase(serverUrl, `svcgen_bench_events_${kind}_${batchSize}`);
  const stream = `SVCGEN_BENCH_${suffix}`;
  const transport =
    kind === "nats"
      ? createNatsTransport({ stream, subjectPrefix: `svcgen_bench_${suffix}` })
      : createPostgresTransport({ pool });
  await fillOutbox(pool, total);
  const relay = await startRelay({
    pool,
    transport,
    batchSize,
    listen: false,
    pollIntervalMs: 60_000,
  });
  // The loop claims its first batch at start; drain() takes the rest in the same serial chain.
  const t0 = performance.now();
  await relay.drain();
  const relayMs = performance.now() - t0;
  if (relay.delivered !== total) throw new Error(`relay delivered ${relay.delivered} of ${total}`);
  await relay.stop();

  let seen = 0;
  let resolveAll;
  const all = new Promise((r) => {
    resolveAll = r;
  });
  const t1 = performance.now();
  const consumer = await startConsumer({
    pool,
    transport,
    group: "bench",
    topics: ["bench.created"],
    async handle() {
      if (++seen === total) resolveAll();
    },
  });
  await all;
  const consumerMs = performance.now() - t1;
  await consumer.stop();
  if (kind === "nats") {
    const { connect } = await import("nats");
    const nc = await connect({ servers: "127.0.0.1:4222" });
    await (await nc.jetstreamManager()).streams.delete(stream);
    await nc.close();
  }
  await transport.close();
  await pool.end();
  return { relayMs, consumerMs };
}

const fromEnv = process.env.DATABASE_URL;
const server = fromEnv ? undefined : await startEmbeddedServer(15);
const serverUrl = fromEnv || server.url;
const kinds = ["postgres", ...((await natsReachable()) ? ["nats"] : [])];
if (!kinds.includes("nats"))
  console.log("NATS not reachable at 127.0.0.1:4222: JetStream rows skipped");
const rows = [];
try {
  for (const kind of kinds) {
    for (const batchSize of [100, 500]) {
      const r = await measure(serverUrl, kind, batchSize);
      const rate = (ms) => Math.round(total / (ms / 1000));
      rows.push(
        `| ${kind} | ${batchSize} | ${total} | ${rate(r.relayMs)} | ${rate(r.consumerMs)} |`,
      );
      console.log(rows.at(-1));
    }
  }
} finally {
  await server?.stop();
}
console.log(
  `\nNode ${process.version}, ${cpus().length} cores, PostgreSQL ${fromEnv ? "at DATABASE_URL" : "15 embedded"}\n`,
);
console.log("| transport | relay batch | events | relay events/s | consumer events/s |");
console.log("|---|---|---|---|---|");
for (const row of rows) console.log(row);
