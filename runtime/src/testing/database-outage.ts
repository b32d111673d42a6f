/**
 * Database outages for tests: the service's database stops accepting connections
 * (`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and every backend connected to it is
 * terminated (`pg_terminate_backend`), so calls in flight lose their connection and new ones
 * cannot connect, exactly as when the server goes away; `restore()` lets connections in again.
 * The rest of the server (other databases, the test's own admin connection) is untouched, so
 * parallel tests on one server are not affected.
 */
import pg from "pg";

/** Options of {@link startDatabaseOutage}. */
export interface DatabaseOutageOptions {
  /**
   * A superuser (or database owner) connection to another database of the same server.
   * Default: `databaseUrl` with its database replaced by `postgres`.
   */
  readonly adminUrl?: string;
}

/** An outage in progress. */
export interface DatabaseOutage {
  /** The database that is unavailable. */
  readonly database: string;
  /** How many backends were terminated when it started. */
  readonly terminated: number;
  /** Lets connections in again; calling it twice is harmless. */
  restore(): Promise<void>;
}

/** The database name of a connection string. */
export function databaseNameOf(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ""));
  if (name === "")
    throw new Error(`The connection string names no database: ${redact(databaseUrl)}`);
  return name;
}

function adminUrlFor(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = "/postgres";
  return url.toString();
}

function redact(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable connection string)";
  }
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function admin<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Makes the database of `databaseUrl` unavailable until `restore()`: refuses new connections,
 * then terminates every backend connected to it (a service's pool sees its connections
 * dropped with SQLSTATE 57P01 and reconnects fail). Refuses to act on `postgres` or a
 * template database, which would take the whole server's administration down with it.
 */
export async function startDatabaseOutage(
  databaseUrl: string,
  options: DatabaseOutageOptions = {},
): Promise<DatabaseOutage> {
  const database = databaseNameOf(databaseUrl);
  if (database === "postgres" || database.startsWith("template")) {
    throw new Error(`Refusing to make the ${database} database unavailable; use a test database`);
  }
  const adminUrl = options.adminUrl ?? adminUrlFor(databaseUrl);
  const terminated = await admin(adminUrl, async (c) => {
    await c.query(`ALTER DATABASE ${quoteIdent(database)} ALLOW_CONNECTIONS false`);
    const r = await c.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [database],
    );
    return r.rows[0]?.n ?? 0;
  });
  let restored: Promise<void> | undefined;
  return {
    database,
    terminated,
    restore() {
      restored ??= admin(adminUrl, async (c) => {
        await c.query(`ALTER DATABASE ${quoteIdent(database)} ALLOW_CONNECTIONS true`);
      });
      return restored;
    },
  };
}

/**
 * Runs `during` while the database of `databaseUrl` is unavailable and restores it afterwards,
 * also when `during` throws. With a number instead of a function, the outage lasts that many
 * milliseconds.
 */
export async function withDatabaseOutage<T>(
  databaseUrl: string,
  during: (() => Promise<T>) | number,
  options: DatabaseOutageOptions = {},
): Promise<T | undefined> {
  const outage = await startDatabaseOutage(databaseUrl, options);
  try {
    if (typeof during === "number") {
      await new Promise((resolve) => setTimeout(resolve, during));
      return undefined;
    }
    return await during();
  } finally {
    await outage.restore();
  }
}
