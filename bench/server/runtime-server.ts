/**
 * Benchmark server A: the example project's generated UserService served by the runtime's
 * `startServer` with every resilience feature on (shedding, bulkhead, deadline, validation,
 * error map, retry, breaker + health probe, health, reflection). Bundled by server-bench.js;
 * run as a forked child (IPC answers `cpu`). `BENCH_MODE`:
 *
 * - `resilience`: telemetry off, callers identified by an `authenticate` hook (`x-uid`);
 * - `full`: everything from the environment as a deployed service runs it: metrics, the call
 *   log (JSON lines to /dev/null), JWKS auth (`AUTH_JWKS_URL`...), and tracing when the
 *   process was started with `--import @svcgen/runtime/telemetry/register`.
 */
import type { Metadata } from "@grpc/grpc-js";
import { runMain, startServer } from "@svcgen/runtime/server";
import { pino } from "pino";
import { userServicePolicies } from "../../example-project/gen/grpc/user-service.js";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";
import { answerBench } from "./measured-window.js";

async function authenticate(metadata: Metadata) {
  const uid = metadata.get("x-uid")[0];
  return typeof uid === "string" ? { uid, roles: [], claims: {} } : undefined;
}

// BENCH_OFF=validation,shedding,... turns parts off, to see what each costs.
const off = new Set((process.env.BENCH_OFF ?? "").split(","));
const full = process.env.BENCH_MODE === "full";
const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

void runMain(async () => {
  const handle = await startServer({
    services: [
      {
        service: UserService,
        policies: userServicePolicies,
        handlers: (db) => new UserServiceImpl(db),
      },
    ],
    ...(full
      ? { logDestination: pino.destination({ dest: "/dev/null", sync: true }) }
      : { authenticate, logger: quiet }),
    features: {
      ...(full ? {} : { metrics: false, callLog: false }),
      ...(off.has("validation") ? { validation: false } : {}),
      ...(off.has("shedding") ? { shedding: false } : {}),
      ...(off.has("bulkhead") ? { bulkhead: false } : {}),
      ...(off.has("retry") ? { retry: false } : {}),
      ...(off.has("breaker") ? { breaker: false } : {}),
    },
  });
  // The bench reads this line for the address.
  process.stdout.write(`${JSON.stringify({ msg: "listening", grpc: handle.grpcAddress })}\n`);
  // CPU time and profiles of each measured window (see measured-window.ts).
  answerBench(() => handle.snapshot());
  return handle;
});
