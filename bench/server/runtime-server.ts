/**
 * Benchmark server A: the example project's generated UserService served by the runtime's
 * `startServer` with every feature of the runtime on (auth hook, shedding, bulkhead,
 * deadline, validation, error map, retry, breaker + health probe, health, reflection).
 * Bundled by server-bench.js; run as a forked child (IPC answers `cpu`).
 */
import type { Metadata } from "@grpc/grpc-js";
import { runMain, startServer } from "@svcgen/runtime/server";
import { userServicePolicies } from "../../example-project/gen/grpc/user-service.js";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";

async function authenticate(metadata: Metadata) {
  const uid = metadata.get("x-uid")[0];
  return typeof uid === "string" ? { uid, roles: [], claims: {} } : undefined;
}

// BENCH_OFF=validation,shedding,... turns parts off, to see what each costs.
const off = new Set((process.env.BENCH_OFF ?? "").split(","));

void runMain(async () => {
  const handle = await startServer({
    services: [
      {
        service: UserService,
        policies: userServicePolicies,
        handlers: (db) => new UserServiceImpl(db),
      },
    ],
    authenticate,
    features: {
      ...(off.has("validation") ? { validation: false } : {}),
      ...(off.has("shedding") ? { shedding: false } : {}),
      ...(off.has("bulkhead") ? { bulkhead: false } : {}),
      ...(off.has("retry") ? { retry: false } : {}),
      ...(off.has("breaker") ? { breaker: false } : {}),
    },
    // Quiet: the bench reads the listening line only.
    logger: {
      info: (f, m) => {
        if (m === "listening") process.stdout.write(`${JSON.stringify({ ...f, msg: m })}\n`);
      },
      warn: () => undefined,
      error: () => undefined,
    },
  });
  process.on("message", (m) => {
    if (m === "cpu") process.send?.({ cpu: process.cpuUsage(), snapshot: handle.snapshot() });
  });
  return handle;
});
