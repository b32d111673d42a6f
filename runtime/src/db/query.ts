/**
 * Running generated queries: a query is defined once per module (`defineQuery`) and run by
 * the `run*` function of its annotation. Values arrive as raw text (a per-query `types`
 * override, so node-postgres's global parsers are neither used nor changed) in array row mode,
 * and each column is decoded by position with the codec chosen at generate time.
 */
import { createHash } from "node:crypto";
import type { Context } from "@opentelemetry/api";
import type { Client, Pool, PoolClient, QueryArrayConfig, QueryArrayResult } from "pg";
import { inTrace, traceContextFor } from "../telemetry/trace-scope.js";
import { sendCancelRequest } from "./cancel.js";
import type { Decoder, Encoder } from "./codecs.js";
import { QueryAbortedError, TooManyRowsError } from "./errors.js";
import { queryRetryPolicyOf } from "./query-retry.js";
import { markSentWrite } from "./sent-writes.js";

/** Anything generated queries run on: a node-postgres `Pool`, a checked-out `PoolClient` or a `Client`. */
export type Queryable = Pool | PoolClient | Client;

/** node-postgres's `Pool`, re-exported so generated stream functions need no import from `pg`. */
export type { Pool };

/** Per-call options of a generated query function. */
export interface QueryOptions {
  /**
   * Cancels the query: if already aborted, nothing is sent; if aborted while the query runs,
   * a cancel request stops it on the server and the call rejects with an `AbortError`
   * ({@link QueryAbortedError}) whose `reason` is the signal's.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Use a named prepared statement for this call. Default: the runtime's `preparedStatements`
   * setting (see {@link configureRuntime}), unless the query was generated with prepare off.
   */
  readonly prepare?: boolean | undefined;
}

/** Process-wide settings of the runtime's database layer. */
export interface RuntimeSettings {
  /**
   * Named prepared statements for generated queries. Default true. Set false behind a
   * transaction-mode pooler (PgBouncer, Supavisor), where a statement prepared on one server
   * connection is missing on the next.
   */
  readonly preparedStatements: boolean;
  /**
   * Called after each `run*` query (not streams) with its name, duration in seconds and
   * whether it succeeded; for the `db_query_duration_seconds` metric. Default none.
   */
  readonly queryObserver?: ((name: string, seconds: number, ok: boolean) => void) | undefined;
}

// Kept on globalThis so that two copies of the runtime in one process (a bundled and a linked
// one, say) share one setting.
const settingsKey = Symbol.for("svcgen.runtime.db.settings");
type SettingsHolder = { [settingsKey]?: RuntimeSettings };

function settings(): RuntimeSettings {
  return (globalThis as SettingsHolder)[settingsKey] ?? { preparedStatements: true };
}

/** Changes process-wide runtime settings; unspecified fields keep their value. Returns the result. */
export function configureRuntime(changes: Partial<RuntimeSettings>): RuntimeSettings {
  const next = { ...settings(), ...changes };
  (globalThis as SettingsHolder)[settingsKey] = next;
  return next;
}

/** What generated code declares about one query. */
export interface QuerySpec<Params, Row> {
  /** The query's name from the annotation (`GetUser`); names errors and the prepared statement. */
  readonly name: string;
  /** The SQL text with `$n` placeholders, exactly as analysed. */
  readonly sql: string;
  /** Parameter keys and encoders in `$n` order. */
  readonly params: readonly (readonly [key: keyof Params & string, encode: Encoder])[];
  /**
   * Result column keys and decoders in column order. A third element nests the column under
   * that row key (the columns of a `sqlc.embed(t)` become one object `t`).
   */
  readonly columns: readonly (
    | readonly [key: keyof Row & string, decode: Decoder]
    | readonly [key: string, decode: Decoder, group: keyof Row & string]
  )[];
  /** False when the project turned prepared statements off at generate time. Default true. */
  readonly prepare?: boolean;
  /**
   * True when the generator proved the statement only reads (a SELECT that locks nothing,
   * modifies nothing and calls no volatile function): run on a pool, a transient failure is
   * then retried at the query by the pool's retry policy (`setQueryRetryPolicy`). Default false.
   */
  readonly readOnly?: boolean;
}

/** A defined query: its spec plus what the runtime derives once (statement name). */
export interface Query<Params, Row> extends QuerySpec<Params, Row> {
  /** Name of the prepared statement: query name plus a hash of the SQL, unique per SQL text. */
  readonly statementName: string;
}

/**
 * Defines a query for the `run*` functions. The prepared statement name is
 * `svcgen_<name>_<12 hex digits of sha256(sql)>`, cut to fit PostgreSQL's 63-byte limit,
 * so two texts never share a name and a changed query never reuses a stale statement.
 */
export function defineQuery<Params = Record<string, never>, Row = Record<string, never>>(
  spec: QuerySpec<Params, Row>,
): Query<Params, Row> {
  const hash = createHash("sha256").update(spec.sql).digest("hex").slice(0, 12);
  const base = spec.name.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 63 - 8 - 13);
  const query = Object.freeze({ ...spec, statementName: `svcgen_${base}_${hash}` });
  // Rows are copies of one object with every key, so they share a hidden class in V8 and
  // filling them is a store to a known slot, not a shape transition per key.
  const template: Record<string, null> = {};
  for (const [key, , group] of spec.columns) template[group ?? key] = null;
  rowTemplates.set(query, template);
  return query;
}

const rowTemplates = new WeakMap<object, Record<string, null>>();

/** Result of an `:execresult` query: what the server reported, without rows. */
export interface ExecResult {
  /** The command tag's verb: `INSERT`, `UPDATE`, `DELETE`, `SELECT`, ... */
  readonly command: string;
  /** Rows affected (or returned), or null for commands that report no count. */
  readonly rowCount: number | null;
}

// Every value stays text; decoding is the generated codecs' job.
const rawText = (value: string): string => value;
const rawTypes = { getTypeParser: () => rawText };

/** Internal fields of node-postgres's Client the cancel path reads (not in @types/pg). */
interface ClientInternals {
  readonly processID: number | null;
  readonly secretKey: number | null;
  readonly host: string;
  readonly port: number;
  readonly activeQuery?: { readonly values?: unknown } | null;
  readonly queryQueue?: Array<{ readonly values?: unknown; callback?: (err: Error) => void }>;
}

/** Internal: whether `db` is a pool (checked out per call) rather than one client. */
export function isPool(db: Queryable): db is Pool {
  // A Pool has pool counters; Client and PoolClient do not.
  return typeof (db as Partial<Pool>).totalCount === "number";
}

/** Internal: a query's parameters as node-postgres values, in `$n` order. */
export function encodeParams<Params, Row>(
  query: Query<Params, Row>,
  params: Params | undefined,
): unknown[] {
  const values: unknown[] = new Array(query.params.length);
  for (let i = 0; i < query.params.length; i++) {
    const entry = query.params[i]!;
    const value = params === undefined || params === null ? undefined : params[entry[0]];
    values[i] = value === undefined || value === null ? null : entry[1](value);
  }
  return values;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason;
}

/** Runs the query on a client, sending a cancel request if the signal fires while it runs. */
async function runCancellable(
  client: Client | PoolClient,
  config: QueryArrayConfig,
  signal: AbortSignal,
  queryName: string,
  traceCtx: Context,
): Promise<QueryArrayResult> {
  const internals = client as unknown as ClientInternals;
  let settled = false;
  const onAbort = (): void => {
    if (settled) return;
    // Without the queue internals (another client implementation), cancel whatever runs.
    if (!("activeQuery" in internals) || internals.activeQuery?.values === config.values) {
      void sendCancelRequest(internals);
      return;
    }
    // Still queued behind another query on this client: drop it before it reaches the server.
    const queue = internals.queryQueue;
    const index = queue?.findIndex((q) => q.values === config.values) ?? -1;
    if (queue !== undefined && index >= 0) {
      const [queued] = queue.splice(index, 1);
      queued?.callback?.(new QueryAbortedError(abortReason(signal), queryName));
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await send(client, config, queryName, traceCtx);
  } catch (err) {
    if (signal.aborted && !(err instanceof QueryAbortedError)) {
      throw new QueryAbortedError(abortReason(signal), queryName, err);
    }
    throw err;
  } finally {
    settled = true;
    signal.removeEventListener("abort", onAbort);
  }
}

async function execute<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params: Params | undefined,
  opts: QueryOptions | undefined,
): Promise<QueryArrayResult> {
  const signal = opts?.signal;
  if (signal?.aborted) throw new QueryAbortedError(abortReason(signal), query.name);
  const prepare = opts?.prepare ?? (query.prepare !== false && settings().preparedStatements);
  const config: QueryArrayConfig = {
    text: query.sql,
    values: encodeParams(query, params),
    rowMode: "array",
    types: rawTypes,
  };
  if (prepare) config.name = query.statementName;
  const observer = settings().queryObserver;
  // Read now, before any await: the caller's trace context is still the active one.
  const traceCtx = traceContextFor(signal, db);
  // Only a read-only query on the pool itself may be sent again; the try costs nothing until
  // it fails (no promise or closure is made for the retry path before then).
  const retryable = query.readOnly === true && isPool(db);
  const writes = query.readOnly !== true;
  if (observer === undefined) {
    if (!retryable) return runOn(db, config, signal, query.name, traceCtx, writes);
    try {
      return await runOn(db, config, signal, query.name, traceCtx, writes);
    } catch (err) {
      return await retryRead(db, config, signal, query.name, traceCtx, err);
    }
  }
  const start = performance.now();
  let ok = false;
  try {
    let result: QueryArrayResult;
    if (!retryable) result = await runOn(db, config, signal, query.name, traceCtx, writes);
    else {
      try {
        result = await runOn(db, config, signal, query.name, traceCtx, writes);
      } catch (err) {
        result = await retryRead(db, config, signal, query.name, traceCtx, err);
      }
    }
    ok = true;
    return result;
  } finally {
    // One observation per query, its retries included.
    observer(query.name, (performance.now() - start) / 1000, ok);
  }
}

/**
 * A read-only query on a pool failed with `error`: hands it to the pool's retry policy (see
 * `setQueryRetryPolicy`), each attempt on a fresh connection and none after the signal
 * aborted; without a policy, rejects with `error`.
 */
function retryRead(
  pool: Pool,
  config: QueryArrayConfig,
  signal: AbortSignal | undefined,
  queryName: string,
  traceCtx: Context,
  error: unknown,
): Promise<QueryArrayResult> {
  const policy = queryRetryPolicyOf(pool);
  if (policy === undefined) return Promise.reject(error);
  return policy.retry(
    error,
    () => {
      if (signal?.aborted) throw new QueryAbortedError(abortReason(signal), queryName);
      return runOn(pool, config, signal, queryName, traceCtx, false);
    },
    signal,
    queryName,
  );
}

// The name of the query being sent, set only while `client.query` runs synchronously, so a
// tracing hook called inside it (instrumentation-pg's requestHook) can label the SQL span.
const currentQueryKey = Symbol.for("svcgen.runtime.db.currentQuery");
type CurrentQueryHolder = { [currentQueryKey]?: string | undefined };

/** The name of the generated query whose `client.query` call is on the stack, if any. */
export function currentQueryName(): string | undefined {
  return (globalThis as CurrentQueryHolder)[currentQueryKey];
}

function send(
  client: Client | PoolClient,
  config: QueryArrayConfig,
  queryName: string,
  traceCtx: Context,
): Promise<QueryArrayResult> {
  const holder = globalThis as CurrentQueryHolder;
  holder[currentQueryKey] = queryName;
  try {
    // In the trace of the call that runs it, outside one that is not sampled (trace-scope.ts).
    return inTrace(traceCtx, () => client.query(config));
  } finally {
    holder[currentQueryKey] = undefined;
  }
}

/**
 * Internal: a connection error: no SQLSTATE (the socket failed), class 08 (connection exception) or
 * 57P01-57P03 (the server is shutting down or restarting). The client is not fit to go back
 * to the pool: its connection is dead or about to be, and an idle client that dies makes a
 * pool without an `error` listener crash the process.
 */
export function isBroken(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (!(typeof code === "string" && /^[0-9A-Z]{5}$/.test(code))) return true;
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03";
}

/**
 * Watches a client for connection errors, once per client for its whole life. node-postgres
 * emits `error` on a client whose connection dies even while a query runs, and `pg.Pool`
 * listens only while the client is idle, so without a listener a database restart during a
 * query crashes the process of anyone running generated queries on a plain pool. The query
 * itself still rejects. The listener records the error on the client, and {@link releaseChecked}
 * hands such a client back as broken (the pool drops it): a client never outlives its first
 * connection error, so a recorded error always belongs to the current checkout. One listener
 * per client, not one added and removed per query.
 */
function watchConnection(client: PoolClient): void {
  const watched = client as PoolClient & WatchedClient;
  if (watched[connectionErrorKey] !== undefined) return;
  watched[connectionErrorKey] = null;
  client.on("error", (err: Error) => {
    watched[connectionErrorKey] ??= err;
  });
}

const connectionErrorKey = Symbol.for("svcgen.runtime.db.connectionError");
interface WatchedClient {
  /** null: watched, no error; an Error: the connection failed. */
  [connectionErrorKey]?: Error | null;
}

/**
 * Returns a checked-out client: with the error when its connection failed, or always when
 * `discard` (the pool then drops it instead of handing a dead connection to the next caller).
 */
function releaseChecked(client: PoolClient, failure: unknown, discard = false): void {
  const recorded = (client as PoolClient & WatchedClient)[connectionErrorKey];
  const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
  const broken =
    recorded ??
    (failure !== undefined &&
    (discard || (!(failure instanceof QueryAbortedError) && isBroken(failure)))
      ? asError(failure)
      : undefined);
  client.release(broken);
}

async function runOn(
  db: Queryable,
  config: QueryArrayConfig,
  signal: AbortSignal | undefined,
  queryName: string,
  traceCtx: Context,
  writes: boolean,
): Promise<QueryArrayResult> {
  if (!isPool(db)) {
    if (writes) markSentWrite(signal);
    return signal === undefined
      ? send(db, config, queryName, traceCtx)
      : runCancellable(db, config, signal, queryName, traceCtx);
  }
  // Always check a connection out and query on it: `pool.query` on a saturated pool runs in
  // the async context of whichever query released the connection, so tracing would put the
  // SQL span under another call. A checkout also tells the abort path whom to cancel.
  const client = signal === undefined ? await db.connect() : await checkOut(db, signal, queryName);
  watchConnection(client);
  if (writes) markSentWrite(signal);
  let failure: unknown;
  try {
    return signal === undefined
      ? await send(client, config, queryName, traceCtx)
      : await runCancellable(client, config, signal, queryName, traceCtx);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    releaseChecked(client, failure);
  }
}

/**
 * Internal: checks a client out of the pool, giving up when the signal fires while waiting for one
 * (an exhausted pool can keep a caller waiting long); a client that arrives after that goes
 * straight back.
 */
export function checkOut(pool: Pool, signal: AbortSignal, queryName: string): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      reject(new QueryAbortedError(abortReason(signal), queryName));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    pool.connect().then(
      (client) => {
        signal.removeEventListener("abort", onAbort);
        if (done) {
          client.release();
          return;
        }
        done = true;
        resolve(client);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (done) return;
        done = true;
        reject(err);
      },
    );
  });
}

/** Internal: one result row (raw text values) decoded into the row object. */
export function decodeRow<Params, Row>(
  query: Query<Params, Row>,
  template: Record<string, null>,
  values: readonly unknown[],
): Row {
  const row: Record<string, unknown> = { ...template };
  const columns = query.columns;
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const raw = values[i];
    const value = raw === null || raw === undefined ? null : column[1](raw as string);
    const group = column[2];
    if (group === undefined) {
      row[column[0]] = value;
    } else {
      // An embedded table's columns: one object per row under the group's key.
      let nested = row[group] as Record<string, unknown> | null;
      if (nested === null) {
        nested = {};
        row[group] = nested;
      }
      nested[column[0]] = value;
    }
  }
  return row as Row;
}

/** Internal: the row template of a query (every key, null). */
export function templateOf<Params, Row>(query: Query<Params, Row>): Record<string, null> {
  let template = rowTemplates.get(query);
  if (template === undefined) {
    // A query object not made by defineQuery (a spread copy, say): build its template now.
    template = {};
    for (const [key, , group] of query.columns) template[group ?? key] = null;
    rowTemplates.set(query, template);
  }
  return template;
}

/** Runs a `:one` query: the row, null for no row; rejects with {@link TooManyRowsError} for more. */
export async function runOne<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params?: Params,
  opts?: QueryOptions,
): Promise<Row | null> {
  const result = await execute(db, query, params, opts);
  const rows = result.rows;
  if (rows.length > 1) throw new TooManyRowsError(query.name, rows.length);
  const first = rows[0];
  return first === undefined ? null : decodeRow(query, templateOf(query), first);
}

/** Runs a `:many` query: every row, in the server's order. */
export async function runMany<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params?: Params,
  opts?: QueryOptions,
): Promise<Row[]> {
  const result = await execute(db, query, params, opts);
  const rows = result.rows;
  const out: Row[] = new Array(rows.length);
  const template = templateOf(query);
  for (let i = 0; i < rows.length; i++) out[i] = decodeRow(query, template, rows[i]!);
  return out;
}

/** Runs an `:exec` query; any rows are discarded. */
export async function runExec<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params?: Params,
  opts?: QueryOptions,
): Promise<void> {
  await execute(db, query, params, opts);
}

/** Runs an `:execrows` query: the affected row count (0 when the command reports none). */
export async function runExecRows<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params?: Params,
  opts?: QueryOptions,
): Promise<number> {
  const result = await execute(db, query, params, opts);
  return result.rowCount ?? 0;
}

/** Runs an `:execresult` query: the command and row count, see {@link ExecResult}. */
export async function runExecResult<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  params?: Params,
  opts?: QueryOptions,
): Promise<ExecResult> {
  const result = await execute(db, query, params, opts);
  return { command: result.command, rowCount: result.rowCount };
}

/** Options of {@link runStream}. */
export interface StreamOptions {
  /**
   * Stops the stream: an aborted FETCH is cancelled on the server, the transaction rolled
   * back, and the iteration rejects with an `AbortError`. Checked again before every FETCH.
   */
  readonly signal?: AbortSignal | undefined;
  /** Rows per FETCH, at most this many held in memory. Default 100. */
  readonly batchSize?: number | undefined;
  /** Called after each FETCH with the number of rows it returned (metrics, tests). */
  readonly onFetch?: ((rows: number) => void) | undefined;
}

/** The default rows per FETCH of {@link runStream}. */
export const defaultStreamBatchSize = 100;

/**
 * Streams the rows of a `:many` SELECT through a server-side cursor, decoded like
 * {@link runMany}. Pull-based: the next FETCH runs only when the consumer asks for more rows,
 * so a slow consumer (a gRPC client with backpressure) never makes the server or the process
 * buffer the result. The cursor lives in a transaction on a connection checked out of `pool`
 * for the stream; leaving the loop early (break, throw, abort) rolls it back and returns the
 * connection. Only statements a cursor accepts (SELECT, VALUES) can be streamed.
 */
export async function* runStream<Params, Row>(
  pool: Pool,
  query: Query<Params, Row>,
  params?: Params,
  opts?: StreamOptions,
): AsyncGenerator<Row, void, undefined> {
  const signal = opts?.signal;
  if (signal?.aborted) throw new QueryAbortedError(abortReason(signal), query.name);
  const batch = Math.max(1, Math.floor(opts?.batchSize ?? defaultStreamBatchSize));
  const traceCtx = traceContextFor(signal);
  const client =
    signal === undefined ? await pool.connect() : await checkOut(pool, signal, query.name);
  watchConnection(client);
  const run = (config: QueryArrayConfig): Promise<QueryArrayResult> => {
    if (signal === undefined) return inTrace(traceCtx, () => client.query(config));
    if (signal.aborted)
      return Promise.reject(new QueryAbortedError(abortReason(signal), query.name));
    return runCancellable(client, config, signal, query.name, traceCtx);
  };
  const template = templateOf(query);
  let open = false;
  let broken: unknown;
  try {
    await inTrace(traceCtx, () => client.query("BEGIN"));
    open = true;
    await run({
      text: `DECLARE svcgen_stream NO SCROLL CURSOR FOR ${query.sql}`,
      values: encodeParams(query, params),
      rowMode: "array",
    });
    for (;;) {
      // A fresh values array per FETCH identifies this query to the abort path.
      const res = await run({
        text: `FETCH ${batch} FROM svcgen_stream`,
        values: [],
        rowMode: "array",
        types: rawTypes,
      });
      opts?.onFetch?.(res.rows.length);
      for (const values of res.rows) yield decodeRow(query, template, values);
      if (res.rows.length < batch) break;
    }
    open = false;
    await inTrace(traceCtx, () => client.query("COMMIT"));
  } finally {
    if (open) {
      try {
        await inTrace(traceCtx, () => client.query("ROLLBACK"));
      } catch (err) {
        // A connection that cannot even roll back is not given to the next caller.
        broken = err instanceof Error ? err : new Error(String(err));
      }
    }
    releaseChecked(client, broken, broken !== undefined);
  }
}
