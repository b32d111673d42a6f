// Server side of the telemetry overhead benchmark (started by telemetry-overhead.mjs, one
// process per configuration). MODE: plain (a hand-written grpc-js + pg handler), obs
// (the same handler behind the runtime's metrics and call-log interceptors, the Firebase
// authenticate hook and the query observer; tracing off), trace (obs plus tracing, sampled
// at SAMPLE_RATIO, exported as OTLP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT).
// Reports process CPU time on each "mark" line read from stdin.
import { createInterface } from "node:readline";

const mode = process.env.MODE ?? "plain";
if (mode === "trace") {
  // Before grpc-js and pg load (they are imported dynamically below).
  const { registerLoaderHook, startTracing } = await import("../dist/telemetry/tracing.js");
  registerLoaderHook();
  startTracing({ serviceName: "bench", sampleRatio: Number(process.env.SAMPLE_RATIO ?? "1") });
}
const grpc = await import("@grpc/grpc-js");
const { default: pg } = await import("pg");
const { connect } = await import("node:net");
const { Agent } = await import("node:https");

const pool = new pg.Pool({ connectionString: process.env.BENCH_DB, max: 8 });
const json = {
  serialize: (v) => Buffer.from(JSON.stringify(v)),
  deserialize: (b) => JSON.parse(b.toString()),
};
const definition = {
  getUser: {
    path: "/bench.v1.UserService/GetUser",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};
const sql = "SELECT id, email, name FROM bench_users WHERE id = $1";

let server;
if (mode === "plain") {
  server = new grpc.Server();
  server.addService(definition, {
    getUser(call, callback) {
      pool.query({ text: sql, values: [call.request.id] }).then(
        (r) =>
          r.rows.length === 0
            ? callback({ code: grpc.status.NOT_FOUND, details: "no user" })
            : callback(null, r.rows[0]),
        (e) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
      );
    },
  });
} else {
  const runtime = await import("../dist/index.js");
  const telemetry = await import("../dist/telemetry/index.js");
  const auth = await import("../dist/auth/index.js");
  const registry = telemetry.createMetricsRegistry();
  const observe = telemetry.registerQueryMetrics(registry);
  runtime.configureRuntime({ queryObserver: (name, s) => observe(name, s) });
  telemetry.registerResilienceMetrics(registry, { pool });
  const logger = telemetry.createServiceLogger({
    service: "bench",
    env: {},
    destination: (await import("pino")).pino.destination({ dest: "/dev/null", sync: false }),
  });
  const onSecurityEvent = telemetry.registerAuthMetrics(registry);
  const certPort = Number(process.env.CERT_PORT);
  class LoopbackAgent extends Agent {
    createConnection() {
      return connect(certPort, "127.0.0.1");
    }
  }
  const verifier = auth.createFirebaseVerifier({
    projectId: "bench-project",
    httpAgent: new LoopbackAgent(),
    env: {},
  });
  await verifier.ready();
  const authenticate = auth.createAuthenticate(verifier, { onSecurityEvent });
  const getUser = runtime.defineQuery({
    name: "GetUser",
    sql,
    params: [["id", runtime.encodeValue]],
    columns: [
      ["id", runtime.decodeNumber],
      ["email", runtime.decodeText],
      ["name", runtime.decodeText],
    ],
  });
  server = new grpc.Server({
    interceptors: [
      telemetry.createGrpcServerLogInterceptor(logger.log),
      telemetry.createGrpcServerMetricsInterceptor(telemetry.registerGrpcServerMetrics(registry)),
    ],
  });
  server.addService(definition, {
    getUser(call, callback) {
      authenticate(call.metadata, definition.getUser.path)
        .then(() => runtime.runOne(pool, getUser, { id: call.request.id }))
        .then(
          (row) =>
            row === null
              ? callback({ code: grpc.status.NOT_FOUND, details: "no user" })
              : callback(null, row),
          (e) => callback({ code: e.code ?? grpc.status.INTERNAL, details: String(e.message) }),
        );
    },
  });
}

const port = await new Promise((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
    e ? reject(e) : resolve(p),
  ),
);
process.stdout.write(`${JSON.stringify({ port })}\n`);
// BENCH_PROFILE=<file>: a CPU profile of the measured window (between the two marks).
const profileFile = process.env.BENCH_PROFILE;
let session;
let marks = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "mark") {
    marks += 1;
    if (profileFile !== undefined && marks === 1) {
      const { Session } = await import("node:inspector/promises");
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    if (session !== undefined && marks === 2) {
      const { profile } = await session.post("Profiler.stop");
      (await import("node:fs")).writeFileSync(profileFile, JSON.stringify(profile));
    }
    process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`);
  }
  if (line === "stop") break;
}
server.forceShutdown();
process.stdin.destroy();
await pool.end();
// Exit on an empty event loop (so --cpu-prof can write its profile), or after 2 s at most.
setTimeout(() => process.exit(0), 2000).unref();
