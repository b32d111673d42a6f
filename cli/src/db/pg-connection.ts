/**
 * The connection side of opening a schema: connecting with a clear diagnostic instead of a
 * stack trace, closing quietly, URLs with the database swapped or the password masked, and
 * the one way a failure becomes an SVC102 diagnostic.
 */
import pg from "pg";
import { Codes, type Diagnostic } from "../diagnostics.js";

/** A connected client, or the diagnostic saying why there is none. */
export type Connected =
  | { readonly kind: "ok"; readonly client: pg.Client }
  | { readonly kind: "error"; readonly diagnostic: Diagnostic };

/**
 * Connects to `url` (15 s timeout). A malformed URL, a refused or timed-out connection and a
 * server-side refusal (no such database, bad password) are each one SVC102 diagnostic.
 */
export async function connect(url: string): Promise<Connected> {
  try {
    new URL(url);
  } catch {
    return {
      kind: "error",
      diagnostic: databaseError(
        `database URL ${redactUrl(url)} is not a valid URL`,
        "expected postgres://user:password@host:port/database",
      ),
    };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  // A server that goes away later (a dropped database, a stopped embedded server) emits an
  // error event; without a listener that would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
    return { kind: "ok", client };
  } catch (err) {
    await endQuietly(client);
    return {
      kind: "error",
      diagnostic: databaseError(
        `could not connect to ${redactUrl(url)}: ${describeError(err).reason}`,
        "check database.url (or DATABASE_URL) and that the server runs; leave both empty to use an embedded server",
      ),
    };
  }
}

/** The server's version number and the connection's `search_path`. */
export async function sessionInfo(
  client: pg.Client,
): Promise<{ serverVersion: number; searchPath: string }> {
  const res = await client.query<{ v: string; sp: string }>(
    "SELECT current_setting('server_version_num') AS v, current_setting('search_path') AS sp",
  );
  const row = res.rows[0];
  return { serverVersion: Number.parseInt(row?.v ?? "0", 10), searchPath: row?.sp ?? "" };
}

/** Drops database `name` on the server, best effort: never throws. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const c = await connect(serverUrl);
  if (c.kind === "error") return;
  try {
    await c.client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } catch {
    // Best effort: a scratch database left behind is harmless and recognisable by name.
  } finally {
    await endQuietly(c.client);
  }
}

/** Closes a client; an already closed or broken one is fine. */
export async function endQuietly(client: pg.Client): Promise<void> {
  try {
    await client.end();
  } catch {
    // already closed
  }
}

/** The connection URL with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The URL with its password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    // Not a URL: it may still hold a password, so show none of it.
    return "(the configured URL)";
  }
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * What went wrong, from any thrown value: its message, its error code (`ECONNREFUSED`,
 * a SQLSTATE, ...) and a short reason for messages (the code in words where it is a network
 * one, else the message). An AggregateError (node's connect to several addresses) is read
 * through its first error, which is the one that names the cause.
 */
export function describeError(err: unknown): { message: string; code?: string; reason: string } {
  const inner = err instanceof AggregateError ? err.errors[0] : undefined;
  const message =
    err instanceof AggregateError && err.message === "" && inner !== undefined
      ? describeError(inner).message
      : err instanceof Error
        ? err.message
        : String(err);
  const ownCode = (e: unknown): string | undefined =>
    typeof e === "object" && e !== null && "code" in e && typeof e.code === "string"
      ? e.code
      : undefined;
  const code = (inner !== undefined ? ownCode(inner) : undefined) ?? ownCode(err);
  const words: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    ETIMEDOUT: "connection timed out",
    ECONNRESET: "connection reset by the server",
  };
  const reason = (code !== undefined ? words[code] : undefined) ?? message;
  return { message, ...(code !== undefined ? { code } : {}), reason };
}

/** An SVC102 diagnostic (no location: it is about the database, not a file). */
export function databaseError(message: string, hint?: string): Diagnostic {
  return {
    severity: "error",
    code: Codes.database,
    message,
    ...(hint !== undefined ? { hint } : {}),
  };
}
