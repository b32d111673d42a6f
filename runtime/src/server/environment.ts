/**
 * The environment contract of a generated service: every variable, its default, and the one
 * place that parses them, reporting every bad value at once with its name.
 */

/** The settings read from the environment. */
export interface ServerEnvironment {
  /** `DATABASE_URL`: the PostgreSQL connection string. Required. */
  readonly databaseUrl: string;
  /** `HOST`: the interface both ports bind. Default `0.0.0.0`. */
  readonly host: string;
  /** `PORT`: the gRPC port. Default 50051; 0 picks a free port. */
  readonly port: number;
  /** `HTTP_PORT`: health, readiness and metrics. Default 9090; 0 picks a free port. */
  readonly httpPort: number;
  /** `SHUTDOWN_GRACE_MS`: how long in-flight calls may finish after a SIGTERM. Default 10000. */
  readonly shutdownGraceMs: number;
  /** `SHUTDOWN_DELAY_MS`: readiness is 503 this long before the server stops accepting calls. Default 0. */
  readonly shutdownDelayMs: number;
  /** `DATABASE_POOL_MAX`: connections in the pool. Default 10. */
  readonly poolMax: number;
  /** `DATABASE_CONNECT_TIMEOUT_MS`: connecting, or waiting for a free connection. Default 2000. */
  readonly connectTimeoutMs: number;
  /** `DATABASE_IDLE_TIMEOUT_MS`: an idle connection is closed after this long. Default 30000. */
  readonly idleTimeoutMs: number;
  /** `GRPC_MAX_TIMEOUT_MS`: the server's cap on any call's deadline. Default 30000; 0 for none. */
  readonly maxTimeoutMs: number;
  /** `GRPC_MAX_MESSAGE_BYTES`: the largest message received or sent. Default 4194304 (4 MiB). */
  readonly maxMessageBytes: number;
  /** `GRPC_REFLECTION`: `false` turns server reflection off. Default true. */
  readonly reflection: boolean;
}

/** Raised for a missing or malformed variable; lists every problem, one per line. */
export class EnvironmentError extends Error {
  override readonly name = "EnvironmentError";
}

/** Reads the contract from `env` (usually `process.env`). */
export function readServerEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): ServerEnvironment {
  const problems: string[] = [];
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number >= 0`);
      return fallback;
    }
    return value;
  };
  const databaseUrl = env.DATABASE_URL ?? "";
  if (databaseUrl === "")
    problems.push("DATABASE_URL is not set: give the PostgreSQL connection string");
  const port = int("PORT", 50051);
  const httpPort = int("HTTP_PORT", 9090);
  for (const [name, value] of [
    ["PORT", port],
    ["HTTP_PORT", httpPort],
  ] as const) {
    if (value > 65535) problems.push(`${name}=${value} is not a port (0-65535)`);
  }
  const reflectionRaw = (env.GRPC_REFLECTION ?? "true").toLowerCase();
  if (!["true", "false", "1", "0"].includes(reflectionRaw)) {
    problems.push(`GRPC_REFLECTION=${JSON.stringify(env.GRPC_REFLECTION)} must be true or false`);
  }
  const result: ServerEnvironment = {
    databaseUrl,
    host: env.HOST === undefined || env.HOST === "" ? "0.0.0.0" : env.HOST,
    port,
    httpPort,
    shutdownGraceMs: int("SHUTDOWN_GRACE_MS", 10_000),
    shutdownDelayMs: int("SHUTDOWN_DELAY_MS", 0),
    poolMax: int("DATABASE_POOL_MAX", 10),
    connectTimeoutMs: int("DATABASE_CONNECT_TIMEOUT_MS", 2000),
    idleTimeoutMs: int("DATABASE_IDLE_TIMEOUT_MS", 30_000),
    maxTimeoutMs: int("GRPC_MAX_TIMEOUT_MS", 30_000),
    maxMessageBytes: int("GRPC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024),
    reflection: reflectionRaw === "true" || reflectionRaw === "1",
  };
  if (result.poolMax === 0) problems.push("DATABASE_POOL_MAX must be at least 1");
  if (problems.length > 0) {
    throw new EnvironmentError(`Invalid environment:\n  ${problems.join("\n  ")}`);
  }
  return result;
}
