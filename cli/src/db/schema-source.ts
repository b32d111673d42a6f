/**
 * Where the schema comes from: a scratch database on the configured server with the migrations
 * applied, the configured database itself (`useLiveSchema`), or a scratch database on an
 * embedded server started for this run. The analyser only sees a connection string.
 */
import { createHash, randomBytes } from "node:crypto";
import { loadModule, parseSync } from "libpg-query";
import pg from "pg";
import type { ResolvedConfig } from "../config/config.js";
import { byteToCharOffset, Codes, type Diagnostic, positionAt } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";
import { readSourceFiles } from "../read-inputs.js";
import { startEmbeddedServer } from "./embedded-server.js";

/** An open schema: a database holding the project's schema, until `close()`. */
export interface SchemaSession {
  /** Connection string of the database that holds the schema. */
  readonly connectionString: string;
  /** The server's `server_version_num`, e.g. 150004 for 15.4. */
  readonly serverVersion: number;
  /**
   * The `search_path` as the migrations left it (on the migrating connection), for reference;
   * the analyser pins its own.
   */
  readonly searchPath: string;
  /** `scratch`: a database created on the configured server; `live`: the configured database; `embedded`: a scratch database on an embedded server. */
  readonly source: "scratch" | "live" | "embedded";
  /**
   * Releases the schema: drops the scratch database (`scratch`), stops the embedded server and
   * removes its files (`embedded`), nothing (`live`). Safe to call twice; never throws.
   */
  close(): Promise<void>;
}

/** Options of {@link openSchema}. */
export interface OpenSchemaOptions {
  /** Called with a short line before each slow step (starting a server, applying a migration). */
  readonly onProgress?: (message: string) => void;
  /**
   * Name of the scratch database; default `svcgen_scratch_` and 12 random hex digits. For
   * tests and tools that must find it; it must not exist yet.
   */
  readonly scratchName?: string;
}

/** What {@link openSchema} returns. */
export interface OpenSchemaResult {
  /** Undefined when any error diagnostic was produced; everything it created is then released. */
  readonly session: SchemaSession | undefined;
  readonly diagnostics: Diagnostic[];
}

/**
 * Opens the schema as the config says. With `database.url`: a scratch database
 * `svcgen_scratch_<random>` on that server with `migrations` applied in order (unless
 * `useLiveSchema`: then the database at the URL, with nothing applied). Without a URL: an
 * embedded server of version `database.postgres` with the scratch database on it.
 *
 * A server that cannot be reached or started is one SVC102 diagnostic. A migration the server
 * rejects is one SVC101 at its file, line and column; later migrations are not applied, since
 * they may depend on it. In both cases `session` is undefined and nothing is left behind.
 */
export async function openSchema(
  config: ResolvedConfig,
  migrations: readonly SourceFile[],
  opts: OpenSchemaOptions = {},
): Promise<OpenSchemaResult> {
  const progress = opts.onProgress ?? (() => {});
  const { url, useLiveSchema, postgres } = config.database;
  if (url !== undefined && useLiveSchema) return openLive(url);
  if (url !== undefined && config.database.keepSchema && opts.scratchName === undefined) {
    return openKept(url, migrations, progress, config.rootDir);
  }
  if (url !== undefined) {
    return openScratch(url, migrations, progress, "scratch", async () => {}, opts.scratchName);
  }
  progress(`starting an embedded PostgreSQL ${postgres} server`);
  let server: Awaited<ReturnType<typeof startEmbeddedServer>>;
  try {
    server = await startEmbeddedServer(postgres);
  } catch (err) {
    const [first = "", ...rest] = errorMessage(err).split("\n");
    const tail = rest.filter((l) => l.trim() !== "").join("\n");
    return failure(databaseError(first, tail !== "" ? tail : undefined));
  }
  return openScratch(
    server.url,
    migrations,
    progress,
    "embedded",
    () => server.stop(),
    opts.scratchName,
  );
}

async function openLive(url: string): Promise<OpenSchemaResult> {
  const connected = await connect(url);
  if (connected.kind === "error") return failure(connected.diagnostic);
  try {
    const info = await sessionInfo(connected.client);
    // Nothing was created, so closing has nothing to undo; the analyser opens its own connections.
    const close = async (): Promise<void> => {};
    return { session: { connectionString: url, ...info, source: "live", close }, diagnostics: [] };
  } catch (err) {
    return failure(databaseError(`could not query ${redactUrl(url)}: ${errorMessage(err)}`));
  } finally {
    await endQuietly(connected.client);
  }
}

/** The comment that marks a kept schema database as completely migrated. */
const keptMarker = "svcgen kept schema: complete";

/**
 * Applies `migrations` in order on `client`; the first failure as a diagnostic (with how many
 * later migrations were skipped), or undefined when all applied.
 */
async function applyAll(
  client: pg.Client,
  migrations: readonly SourceFile[],
  progress: (message: string) => void,
): Promise<Diagnostic | undefined> {
  for (const [i, file] of migrations.entries()) {
    progress(`applying ${file.path}`);
    const problem = await applyMigration(client, file);
    if (problem !== undefined) {
      const skipped = migrations.length - i - 1;
      const note =
        skipped > 0
          ? `${skipped} later migration${skipped === 1 ? " was" : "s were"} not applied`
          : undefined;
      const hint = [problem.hint, note].filter((x) => x !== undefined).join("; ");
      return { ...problem, ...(hint !== "" ? { hint } : {}) };
    }
  }
  return undefined;
}

/**
 * The kept schema: a database named after the project and a hash of its migrations, built
 * once and reused while the migrations stay the same (no CREATE DATABASE, migrations and
 * DROP on every run). It is marked complete with a comment only after every migration
 * applied; an unmarked one (a run that died half-way) is rebuilt. An advisory lock serialises
 * concurrent runs. Building a new one drops the project's older kept databases. Analysis
 * never writes to it (statements are described, not executed), so reuse is safe.
 */
async function openKept(
  serverUrl: string,
  migrations: readonly SourceFile[],
  progress: (message: string) => void,
  rootDir: string,
): Promise<OpenSchemaResult> {
  const h = createHash("sha256");
  for (const m of migrations) h.update(`\0${m.path}\0${m.text}`);
  const project = createHash("sha256").update(rootDir).digest("hex").slice(0, 8);
  const prefix = `svcgen_schema_${project}_`;
  const name = `${prefix}${h.digest("hex").slice(0, 16)}`;
  const admin = await connect(serverUrl);
  if (admin.kind === "error") return failure(admin.diagnostic);
  const keptUrl = withDatabase(serverUrl, name);
  try {
    await admin.client.query("SELECT pg_advisory_lock(hashtext($1))", [name]);
    const found = await admin.client.query<{ note: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = $1",
      [name],
    );
    const row = found.rows[0];
    if (row === undefined || row.note !== keptMarker) {
      if (row !== undefined) {
        await admin.client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      }
      try {
        await admin.client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (err) {
        return failure(
          databaseError(
            `could not create a scratch database on ${redactUrl(serverUrl)}: ${errorMessage(err)}`,
            "the user needs the CREATEDB privilege; or set database.useLiveSchema: true to analyse the database as it is",
          ),
        );
      }
      const conn = await connect(keptUrl);
      if (conn.kind === "error") return failure(conn.diagnostic);
      let problem: Diagnostic | undefined;
      try {
        problem = await applyAll(conn.client, migrations, progress);
      } finally {
        await endQuietly(conn.client);
      }
      if (problem !== undefined) {
        await admin.client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        return failure(problem);
      }
      await admin.client.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS '${keptMarker}'`);
      // The project's kept schemas for older migrations are of no further use.
      const stale = await admin.client.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
        [prefix, name],
      );
      for (const r of stale.rows) {
        await admin.client
          .query(`DROP DATABASE IF EXISTS ${quoteIdent(r.datname)} WITH (FORCE)`)
          .catch(() => {});
      }
    }
    const conn = await connect(keptUrl);
    if (conn.kind === "error") return failure(conn.diagnostic);
    let info: { serverVersion: number; searchPath: string };
    try {
      info = await sessionInfo(conn.client);
    } finally {
      await endQuietly(conn.client);
    }
    // Kept on purpose: closing leaves the database for the next run.
    const close = async (): Promise<void> => {};
    return {
      session: { connectionString: keptUrl, ...info, source: "scratch", close },
      diagnostics: [],
    };
  } catch (err) {
    return failure(databaseError(`lost the database connection: ${errorMessage(err)}`));
  } finally {
    await admin.client.query("SELECT pg_advisory_unlock(hashtext($1))", [name]).catch(() => {});
    await endQuietly(admin.client);
  }
}

/**
 * Creates a scratch database on the server at `serverUrl`, applies the migrations and returns
 * the session; `release` is what else closing involves (stopping an embedded server). On any
 * failure everything is released before returning.
 */
async function openScratch(
  serverUrl: string,
  migrations: readonly SourceFile[],
  progress: (message: string) => void,
  source: "scratch" | "embedded",
  release: () => Promise<void>,
  scratchName: string | undefined,
): Promise<OpenSchemaResult> {
  const name = scratchName ?? `svcgen_scratch_${randomBytes(6).toString("hex")}`;
  let created = false;
  let released = false;
  const releaseAll = async (): Promise<void> => {
    if (released) return;
    released = true;
    try {
      // An embedded server's files go with it; dropping first would only cost time.
      if (created && source === "scratch") await dropDatabase(serverUrl, name);
    } finally {
      await release().catch(() => {});
    }
  };
  const fail = async (d: Diagnostic): Promise<OpenSchemaResult> => {
    await releaseAll().catch(() => {});
    return failure(d);
  };
  try {
    const admin = await connect(serverUrl);
    if (admin.kind === "error") return await fail(admin.diagnostic);
    try {
      await admin.client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      created = true;
    } catch (err) {
      return await fail(
        databaseError(
          `could not create a scratch database on ${redactUrl(serverUrl)}: ${errorMessage(err)}`,
          "the user needs the CREATEDB privilege; or set database.useLiveSchema: true to analyse the database as it is",
        ),
      );
    } finally {
      await endQuietly(admin.client);
    }
    const scratchUrl = withDatabase(serverUrl, name);
    const conn = await connect(scratchUrl);
    if (conn.kind === "error") return await fail(conn.diagnostic);
    let info: { serverVersion: number; searchPath: string };
    try {
      const problem = await applyAll(conn.client, migrations, progress);
      if (problem !== undefined) return await fail(problem);
      info = await sessionInfo(conn.client);
    } finally {
      await endQuietly(conn.client);
    }
    return {
      session: { connectionString: scratchUrl, ...info, source, close: releaseAll },
      diagnostics: [],
    };
  } catch (err) {
    // Not a user error (e.g. the server went away mid-way): still one clear diagnostic.
    return await fail(databaseError(`lost the database connection: ${errorMessage(err)}`));
  }
}

/**
 * Reads `config.schemaFiles` in order as source files named relative to the project folder,
 * the input {@link openSchema} expects. A file that cannot be read is an SVC009 diagnostic
 * and is left out.
 */
export async function readMigrations(
  config: ResolvedConfig,
): Promise<{ files: SourceFile[]; diagnostics: Diagnostic[] }> {
  // The one reader of project sources (query files use it too).
  return readSourceFiles(config.rootDir, config.schemaFiles, "migration");
}

// --- applying migrations ----------------------------------------------------------------------

/** A statement of a migration file: character offsets of its text in the file. */
interface StatementSpan {
  readonly start: number;
  readonly end: number;
  /** Whether it is BEGIN/COMMIT/ROLLBACK/SAVEPOINT and the like. */
  readonly transactionControl: boolean;
}

let parserReady: Promise<void> | undefined;

/**
 * Applies one migration file; returns the SVC101 diagnostic when the server rejects it.
 *
 * The whole file goes as one simple-protocol query: fast, and atomic (an implicit transaction),
 * so a failure leaves nothing behind. The server's error position is then a character offset
 * into the file. An error without a position (a failed constraint, a statement that cannot run
 * in a transaction block) is re-run statement by statement, as psql would, to find the failing
 * statement. A file with its own BEGIN/COMMIT is always run statement by statement, since a
 * COMMIT in the middle would make a failed whole-file run only partly undone.
 */
async function applyMigration(
  client: pg.Client,
  file: SourceFile,
): Promise<Diagnostic | undefined> {
  const statements = await splitStatements(file.text);
  const ownTransactions = statements?.some((s) => s.transactionControl) ?? false;
  if (!ownTransactions) {
    try {
      await client.query(file.text);
      return undefined;
    } catch (err) {
      if (!isServerError(err)) throw err;
      const pos = err.position === undefined ? Number.NaN : Number.parseInt(err.position, 10);
      if (Number.isFinite(pos) && pos > 0) {
        return migrationError(file, codePointsToCharOffset(file.text, 0, pos - 1), err);
      }
      // The file was parsed by the server, so our parser can split it too; if it cannot
      // (grammar differences), the start of the file is the best place to point at.
      if (statements === undefined) return migrationError(file, 0, err);
    }
  }
  for (const stmt of statements ?? []) {
    const text = file.text.slice(stmt.start, stmt.end);
    try {
      await client.query(text);
    } catch (err) {
      if (!isServerError(err)) throw err;
      const pos = err.position === undefined ? Number.NaN : Number.parseInt(err.position, 10);
      const offset =
        Number.isFinite(pos) && pos > 0
          ? codePointsToCharOffset(file.text, stmt.start, pos - 1)
          : skipTrivia(file.text, stmt.start);
      return migrationError(file, offset, err);
    }
  }
  return undefined;
}

/** Splits SQL into statements with libpg-query; undefined when it does not parse. */
async function splitStatements(text: string): Promise<StatementSpan[] | undefined> {
  parserReady ??= loadModule();
  await parserReady;
  let result: ReturnType<typeof parseSync>;
  try {
    result = parseSync(text);
  } catch {
    return undefined;
  }
  return (result.stmts ?? []).map((s) => {
    // Locations are UTF-8 byte offsets; 0 is omitted; a length of 0 means "to the end".
    const byteStart = s.stmt_location ?? 0;
    const start = byteToCharOffset(text, byteStart);
    const end = s.stmt_len ? byteToCharOffset(text, byteStart + s.stmt_len) : text.length;
    return { start, end, transactionControl: s.stmt !== undefined && "TransactionStmt" in s.stmt };
  });
}

function migrationError(file: SourceFile, offset: number, err: pg.DatabaseError): Diagnostic {
  const { line, column } = positionAt(file.text, offset);
  const hint = [err.detail, err.hint].filter((s) => s !== undefined && s !== "").join("; ");
  return {
    severity: "error",
    code: Codes.migration,
    message: err.message,
    file: file.path,
    line,
    column,
    ...(hint !== "" ? { hint } : {}),
  };
}

/**
 * Advances `count` code points from character offset `from`: PostgreSQL counts positions in
 * characters of the server encoding (code points), JavaScript strings in UTF-16 units.
 */
function codePointsToCharOffset(text: string, from: number, count: number): number {
  let i = from;
  for (let n = 0; n < count && i < text.length; n++) {
    const code = text.codePointAt(i) ?? 0;
    i += code >= 0x10000 ? 2 : 1;
  }
  return i;
}

/** Skips whitespace and comments, so a statement's position is its first keyword. */
function skipTrivia(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") {
      i++;
    } else if (c === "-" && text[i + 1] === "-") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text[i] === "/" && text[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (text[i] === "*" && text[i + 1] === "/") {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

// --- connections ----------------------------------------------------------------------------

type Connected =
  | { readonly kind: "ok"; readonly client: pg.Client }
  | { readonly kind: "error"; readonly diagnostic: Diagnostic };

async function connect(url: string): Promise<Connected> {
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
        `could not connect to ${redactUrl(url)}: ${connectReason(err)}`,
        "check database.url (or DATABASE_URL) and that the server runs; leave both empty to use an embedded server",
      ),
    };
  }
}

async function sessionInfo(
  client: pg.Client,
): Promise<{ serverVersion: number; searchPath: string }> {
  const res = await client.query<{ v: string; sp: string }>(
    "SELECT current_setting('server_version_num') AS v, current_setting('search_path') AS sp",
  );
  const row = res.rows[0];
  return { serverVersion: Number.parseInt(row?.v ?? "0", 10), searchPath: row?.sp ?? "" };
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
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

async function endQuietly(client: pg.Client): Promise<void> {
  try {
    await client.end();
  } catch {
    // already closed
  }
}

/** The URL with the database name replaced. */
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

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A short reason for a failed connect, without a stack trace. */
function connectReason(err: unknown): string {
  const code = errorCode(err);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ETIMEDOUT":
      return "connection timed out";
    case "ECONNRESET":
      return "connection reset by the server";
    default:
      return errorMessage(err);
  }
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError) return errorCode(err.errors[0]) ?? errorCodeOf(err);
  return errorCodeOf(err);
}

function errorCodeOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.message === "") return errorMessage(err.errors[0]);
  return err instanceof Error ? err.message : String(err);
}

function isServerError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError;
}

function databaseError(message: string, hint?: string): Diagnostic {
  return {
    severity: "error",
    code: Codes.database,
    message,
    ...(hint !== undefined ? { hint } : {}),
  };
}

function failure(d: Diagnostic): OpenSchemaResult {
  return { session: undefined, diagnostics: [d] };
}
