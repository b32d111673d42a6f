/**
 * `:copyfrom` queries: many rows into one table through `COPY ... FROM STDIN` (pg-copy-streams),
 * from an array or any (async) iterable, streamed with backpressure so a large or endless
 * source never sits in memory.
 *
 * The text format, not binary: every value goes through the same encoder generated code uses
 * for a parameter of that column, and PostgreSQL reads it with the type's text input function,
 * exactly as it reads a parameter. So every type a query can bind (arrays, enums, domains,
 * json, ranges, types overridden in the config) copies the same way, with no per-type binary
 * writer to keep in step with the server's wire formats; the measured cost is below 1 s for
 * 100,000 rows here (the test), which the server's parsing dominates either way.
 *
 * A row that cannot be encoded, a source that throws, or an aborted signal sends CopyFail: the
 * server discards the whole COPY, so a failed call never leaves part of its rows behind.
 */

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFromStream } from "pg-copy-streams";
import { inTrace, traceContextFor } from "../telemetry/trace-scope.js";
import type { Encoder } from "./codecs.js";
import { QueryAbortedError } from "./errors.js";
import { checkOut, isBroken, isPool, type Queryable } from "./query.js";
import { markSentWrite } from "./sent-writes.js";

/** What generated code declares about one `:copyfrom` query. */
export interface CopySpec<Row> {
  /** The query's name from the annotation. */
  readonly name: string;
  /** `COPY table (column, ...) FROM STDIN`, derived from the annotated INSERT. */
  readonly sql: string;
  /** Row keys and encoders, in the COPY's column order. */
  readonly columns: readonly (readonly [key: keyof Row & string, encode: Encoder])[];
}

/** Per-call options of a `:copyfrom` function. */
export interface CopyOptions {
  /** Stops the copy: nothing of it is kept, and the call rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
}

/** Raised for a row the copy could not encode; the whole copy is discarded. */
export class CopyRowError extends Error {
  override readonly name = "CopyRowError";
  /** The query's name from the annotation. */
  readonly queryName: string;
  /** 0-based position of the row in the source. */
  readonly rowIndex: number;
  /** The row key whose value failed. */
  readonly column: string;

  constructor(queryName: string, rowIndex: number, column: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${queryName}: row ${rowIndex}, ${column}: ${why}`, { cause });
    this.queryName = queryName;
    this.rowIndex = rowIndex;
    this.column = column;
  }
}

/** Bytes of COPY data gathered before one write to the connection. */
const chunkSize = 64 * 1024;

/** node-postgres's own value serialiser (arrays to array literals, objects to JSON). */
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils
  .prepareValue;

/** Characters COPY's text format escapes with a backslash. */
const specials = /[\\\n\r\t]/g;
const escapes: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** One encoded value as a field of COPY's text format (`\N` for NULL). */
function field(encoded: unknown): string {
  if (encoded === null || encoded === undefined) return "\\N";
  let text: string;
  if (Buffer.isBuffer(encoded)) text = `\\x${encoded.toString("hex")}`;
  else {
    const prepared = prepareValue(encoded);
    if (prepared === null || prepared === undefined) return "\\N";
    text = Buffer.isBuffer(prepared) ? `\\x${prepared.toString("hex")}` : String(prepared);
  }
  return text.replace(specials, (c) => escapes[c] ?? c);
}

/** The source's rows as chunks of COPY text, each row checked as it is encoded. */
async function* copyText<Row>(
  spec: CopySpec<Row>,
  rows: Iterable<Row> | AsyncIterable<Row>,
  state: { sourceFailed: boolean },
): AsyncGenerator<string, void, undefined> {
  let chunk = "";
  let index = 0;
  const columns = spec.columns;
  const iterator =
    Symbol.asyncIterator in rows
      ? (rows as AsyncIterable<Row>)[Symbol.asyncIterator]()
      : (rows as Iterable<Row>)[Symbol.iterator]();
  for (;;) {
    let next: IteratorResult<Row>;
    try {
      next = await iterator.next();
    } catch (err) {
      state.sourceFailed = true;
      throw err;
    }
    if (next.done === true) break;
    const row = next.value;
    let line = "";
    for (let c = 0; c < columns.length; c++) {
      const [key, encode] = columns[c]!;
      const value = (row as Record<string, unknown>)[key];
      let text: string;
      try {
        text = value === null || value === undefined ? "\\N" : field(encode(value));
      } catch (err) {
        state.sourceFailed = true;
        throw new CopyRowError(spec.name, index, key, err);
      }
      line += c === 0 ? text : `\t${text}`;
    }
    chunk += `${line}\n`;
    index++;
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Runs a `:copyfrom` query: writes every row of `rows` (an array, an iterable or an async
 * iterable, consumed once, at the pace the server takes it) with one `COPY ... FROM STDIN`
 * and returns the number of rows the server stored. On any failure nothing is stored.
 */
export async function runCopyFrom<Row>(
  db: Queryable,
  spec: CopySpec<Row>,
  rows: Iterable<Row> | AsyncIterable<Row>,
  opts?: CopyOptions,
): Promise<number> {
  const signal = opts?.signal;
  if (signal?.aborted) throw new QueryAbortedError(signal.reason, spec.name);
  const pooled = isPool(db);
  const traceCtx = traceContextFor(signal, pooled ? undefined : db);
  const client = !pooled
    ? db
    : signal === undefined
      ? await db.connect()
      : await checkOut(db, signal, spec.name);
  markSentWrite(signal);
  let failure: unknown;
  const state = { sourceFailed: false };
  try {
    const stream = inTrace(traceCtx, () => client.query(copyFromStream(spec.sql)));
    const source = Readable.from(copyText(spec, rows, state), { objectMode: false });
    try {
      await pipeline(source, stream, signal === undefined ? {} : { signal });
    } catch (err) {
      if (signal?.aborted) throw new QueryAbortedError(signal.reason, spec.name, err);
      throw err;
    }
    return stream.rowCount;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (pooled) {
      // A CopyFail (bad row, failing source, abort) leaves the connection usable; only a
      // lost connection is discarded.
      const broken =
        failure !== undefined &&
        !state.sourceFailed &&
        !(failure instanceof QueryAbortedError) &&
        isBroken(failure);
      (client as pg.PoolClient).release(broken ? (failure as Error) : undefined);
    }
  }
}
