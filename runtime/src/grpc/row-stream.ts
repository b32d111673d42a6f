/**
 * Streams the rows of a query through a server-side cursor, a batch at a time, on a
 * connection checked out for the stream. Pull-based: the next batch is fetched only when the
 * consumer asks for more rows, so a slow gRPC client never makes the server buffer the
 * result; at most `batchSize` rows are held at once.
 */
import type { Pool, PoolClient } from "pg";

/** Options of {@link streamRows}. */
export interface RowStreamOptions {
  /** Stops fetching, closes the cursor and releases the connection when aborted. */
  readonly signal?: AbortSignal;
  /** Rows per FETCH. Default 100. */
  readonly batchSize?: number;
  /** Called after each FETCH with the number of rows it returned (for metrics and tests). */
  readonly onFetch?: (rows: number) => void;
}

/** The default rows per FETCH. */
export const defaultBatchSize = 100;

/**
 * Yields the rows of `sql` (a SELECT, VALUES or WITH ... SELECT statement with `$n`
 * parameters `values`), keyed by column name, decoded by the pool's type parsers. Declares a
 * NO SCROLL cursor in a READ ONLY transaction on its own connection; stopping early (break,
 * abort, error) closes the transaction and returns the connection to the pool. A connection
 * whose FETCH is cut short by an abort is discarded rather than reused.
 */
export async function* streamRows(
  pool: Pool,
  sql: string,
  values: readonly unknown[],
  options: RowStreamOptions = {},
): AsyncGenerator<Record<string, unknown>> {
  const batch = Math.max(1, Math.floor(options.batchSize ?? defaultBatchSize));
  const signal = options.signal;
  signal?.throwIfAborted();
  const client: PoolClient = await pool.connect();
  let broken: Error | undefined;
  // Kill the connection when aborted mid-FETCH: a cancelled stream must not hold a backend.
  const onAbort = (): void => {
    broken = new Error("Row stream aborted");
    client.release(broken);
  };
  let released = false;
  try {
    await client.query("BEGIN READ ONLY");
    await client.query(`DECLARE svcgen_rows NO SCROLL CURSOR FOR ${sql}`, [...values]);
    signal?.addEventListener("abort", onAbort, { once: true });
    for (;;) {
      signal?.throwIfAborted();
      const res = await client.query<Record<string, unknown>>(`FETCH ${batch} FROM svcgen_rows`);
      options.onFetch?.(res.rows.length);
      for (const row of res.rows) yield row;
      if (res.rows.length < batch) break;
    }
    signal?.removeEventListener("abort", onAbort);
    await client.query("COMMIT");
  } catch (e) {
    signal?.removeEventListener("abort", onAbort);
    if (broken === undefined) {
      // The statement failed or the consumer's code threw: end the transaction, keep the connection.
      await client.query("ROLLBACK").catch(() => {});
    }
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (broken === undefined && !released) {
      released = true;
      // Reached on an early `return()` too (the consumer stopped): roll back before reuse.
      await client.query("ROLLBACK").catch(() => {});
      client.release();
    }
  }
}
