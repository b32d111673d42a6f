/**
 * Where the schema comes from: a scratch database on the configured server with the migrations
 * applied, the configured database itself (`useLiveSchema`), or a scratch database on an
 * embedded server started for this run. The analyser only sees a connection string.
 *
 * This module is the lifecycle of those databases (create, reuse, release); connecting is in
 * pg-connection.ts and applying migrations in migration-runner.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ResolvedConfig } from "../config/config.js";
import type { Diagnostic } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";
import { readSourceFiles } from "../read-inputs.js";
import { startEmbeddedServer } from "./embedded-server.js";
import { applyMigrations } from "./migration-runner.js";
import {
  connect,
  databaseError,
  describeError,
  dropDatabase,
  endQuietly,
  quoteIdent,
  redactUrl,
  sessionInfo,
  withDatabase,
} from "./pg-connection.js";

export { redactUrl, withDatabase };

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
    const [first = "", ...rest] = describeError(err).message.split("\n");
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
    return failure(
      databaseError(`could not query ${redactUrl(url)}: ${describeError(err).message}`),
    );
  } finally {
    await endQuietly(connected.client);
  }
}

/** The comment that marks a kept schema database as completely migrated. */
const keptMarker = "svcgen kept schema: complete";

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
        return failure(createFailed(serverUrl, err));
      }
      const conn = await connect(keptUrl);
      if (conn.kind === "error") return failure(conn.diagnostic);
      let problem: Diagnostic | undefined;
      try {
        problem = await applyMigrations(conn.client, migrations, progress);
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
    return failure(connectionLost(err));
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
      return await fail(createFailed(serverUrl, err));
    } finally {
      await endQuietly(admin.client);
    }
    const scratchUrl = withDatabase(serverUrl, name);
    const conn = await connect(scratchUrl);
    if (conn.kind === "error") return await fail(conn.diagnostic);
    let info: { serverVersion: number; searchPath: string };
    try {
      const problem = await applyMigrations(conn.client, migrations, progress);
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
    return await fail(connectionLost(err));
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

function failure(d: Diagnostic): OpenSchemaResult {
  return { session: undefined, diagnostics: [d] };
}

function createFailed(serverUrl: string, err: unknown): Diagnostic {
  return databaseError(
    `could not create a scratch database on ${redactUrl(serverUrl)}: ${describeError(err).message}`,
    "the user needs the CREATEDB privilege; or set database.useLiveSchema: true to analyse the database as it is",
  );
}

/** Not a user error (e.g. the server went away mid-way): still one clear diagnostic. */
function connectionLost(err: unknown): Diagnostic {
  return databaseError(`lost the database connection: ${describeError(err).message}`);
}
