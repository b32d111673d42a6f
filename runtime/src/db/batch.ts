/**
 * `:batchexec`, `:batchone`, `:batchmany`: one statement run for many parameter sets,
 * pipelined on one connection. Every Bind/Execute/Sync is written at once and the replies are
 * read in order, so a batch costs one round trip, not one per item. Each item ends with its
 * own Sync, so the server isolates an error to its item: a failing item reports its error
 * and every other item still runs and reports its result.
 *
 * With `transaction: true` the batch runs between BEGIN and COMMIT and is all or nothing: if
 * an item fails, nothing is kept, the failing item reports its error and every other item a
 * {@link BatchRolledBackError}. Do not ask for it on a client already inside a transaction
 * (`withTransaction` is one): the batch's COMMIT would end that transaction.
 *
 * node-postgres sends one query at a time; like the analyser's pipelined Describe, the
 * submittable here stays the client's active query until the last ReadyForQuery, the one piece
 * of node-postgres internals it relies on (pg is pinned).
 */

import pg from "pg";
import { QueryAbortedError, TooManyRowsError } from "./errors.js";
import {
  checkOut,
  decodeRow,
  encodeParams,
  isBroken,
  isPool,
  type Query,
  type Queryable,
  templateOf,
} from "./query.js";
import { markSentWrite } from "./sent-writes.js";

/** One item's outcome: its value, or the error that item alone ran into. */
export type BatchResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Error };

/** Per-call options of a batch function. */
export interface BatchOptions {
  /** Checked before the batch is sent: an aborted signal sends nothing and rejects. */
  readonly signal?: AbortSignal | undefined;
  /** Use a named prepared statement (parsed once for the batch). Default true. */
  readonly prepare?: boolean | undefined;
  /** Run every item in one transaction, kept only if every item succeeds. Default false. */
  readonly transaction?: boolean | undefined;
}

/** Reported, in a batch run as one transaction, by the items undone by another item's failure. */
export class BatchRolledBackError extends Error {
  override readonly name = "BatchRolledBackError";
  /** The query's name from the annotation. */
  readonly queryName: string;
  /** 0-based index of the item whose failure rolled the batch back. */
  readonly failedIndex: number;

  constructor(queryName: string, failedIndex: number, cause: Error) {
    super(`${queryName}: rolled back because item ${failedIndex} failed: ${cause.message}`, {
      cause,
    });
    this.queryName = queryName;
    this.failedIndex = failedIndex;
  }
}

/** node-postgres's own value serialiser, as its queries bind values. */
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils
  .prepareValue;

/** What the server answered for one pipelined statement. */
interface Outcome {
  rows: unknown[][];
  command: string;
  error: Error | undefined;
}

/** The parts of pg's Client and Connection this module touches. */
interface ClientInternals {
  activeQuery: unknown;
  readyForQuery: boolean;
}
interface ConnectionLike {
  parsedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  parse(q: { text: string; name: string; types: number[] }): void;
  bind(q: {
    portal: string;
    statement: string;
    values: unknown[];
    binary: boolean;
    valueMapper: (value: unknown) => unknown;
  }): void;
  execute(q: { portal: string; rows: number }): void;
  sync(): void;
}

/** One step of the pipeline: a statement (by text) with its values, or an item's statement. */
interface Step {
  readonly text: string;
  /** Named prepared statement, or "" for the unnamed one. */
  readonly name: string;
  readonly values: unknown[];
}

/** The pipelined submittable: writes every step at once, collects one outcome per step. */
class Pipeline {
  // node-postgres records a parsed named statement under the active query's name and text.
  name: string | undefined;
  text: string | undefined;
  readonly #client: ClientInternals;
  readonly #steps: readonly Step[];
  readonly #outcomes: Outcome[];
  #index = 0;
  readonly #done: (outcomes: Outcome[]) => void;
  readonly #fail: (err: Error) => void;

  constructor(
    client: ClientInternals,
    steps: readonly Step[],
    done: (outcomes: Outcome[]) => void,
    fail: (err: Error) => void,
  ) {
    this.#client = client;
    this.#steps = steps;
    this.#outcomes = steps.map(() => ({ rows: [], command: "", error: undefined }));
    this.#done = done;
    this.#fail = fail;
    const named = steps.find((s) => s.name !== "");
    this.name = named?.name;
    this.text = named?.text;
  }

  /** Called by node-postgres when this becomes the active query. */
  submit(connection: ConnectionLike): void {
    connection.stream.cork?.();
    try {
      const parsed = new Set<string>();
      for (const step of this.#steps) {
        if (
          step.name === "" ||
          !(step.name in connection.parsedStatements || parsed.has(step.name))
        ) {
          connection.parse({ text: step.text, name: step.name, types: [] });
          if (step.name !== "") parsed.add(step.name);
        }
        connection.bind({
          portal: "",
          statement: step.name,
          values: step.values,
          binary: false,
          valueMapper: prepareValue,
        });
        connection.execute({ portal: "", rows: 0 });
        connection.sync();
      }
    } finally {
      connection.stream.uncork?.();
    }
  }

  handleRowDescription(): void {}

  handleDataRow(msg: { fields: unknown[] }): void {
    this.#outcomes[this.#index]?.rows.push(msg.fields);
  }

  handleCommandComplete(msg: { text?: string; command?: string }): void {
    const outcome = this.#outcomes[this.#index];
    if (outcome !== undefined)
      outcome.command = (msg.text ?? msg.command ?? "").split(" ")[0] ?? "";
  }

  handleError(err: pg.DatabaseError): void {
    // Not the server rejecting a statement (that carries a severity) but the connection
    // failing: no ReadyForQuery will follow, so the whole batch fails.
    if (typeof err.severity !== "string") {
      this.#fail(err);
      return;
    }
    const outcome = this.#outcomes[this.#index];
    if (outcome !== undefined) outcome.error = err;
    // The client dropped us as active query; this step's ReadyForQuery is still to come.
    this.#client.activeQuery = this;
  }

  handleReadyForQuery(): void {
    this.#index++;
    if (this.#index < this.#steps.length) {
      // Stay the active query until the last step's ReadyForQuery.
      this.#client.activeQuery = this;
      this.#client.readyForQuery = false;
      return;
    }
    this.#done(this.#outcomes);
  }

  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

/** Sends the steps on `client` (not used concurrently) and returns one outcome per step. */
function pipelined(client: pg.Client | pg.PoolClient, steps: readonly Step[]): Promise<Outcome[]> {
  if (steps.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const lost = (err?: Error): void => {
      cleanup();
      reject(err ?? new Error("the database connection was lost"));
    };
    const cleanup = (): void => {
      client.off("end", lost);
      client.off("error", lost);
    };
    client.once("end", lost);
    client.once("error", lost);
    const pipeline = new Pipeline(
      client as unknown as ClientInternals,
      steps,
      (outcomes) => {
        cleanup();
        resolve(outcomes);
      },
      lost,
    );
    client.query(pipeline as unknown as pg.Submittable);
  });
}

/** Runs the items and returns each one's raw outcome (rows or error), in order. */
async function runItems<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  items: readonly Params[],
  opts: BatchOptions | undefined,
): Promise<Outcome[]> {
  const signal = opts?.signal;
  if (signal?.aborted) throw new QueryAbortedError(signal.reason, query.name);
  const prepare = opts?.prepare ?? query.prepare !== false;
  const transaction = opts?.transaction === true;
  // Encode first: an item that cannot be encoded fails alone, without reaching the server.
  const encoded = items.map((item): unknown[] | Error => {
    try {
      return encodeParams(query, item);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  const steps: Step[] = [];
  const stepOf: (number | undefined)[] = [];
  const firstBad = encoded.findIndex((e) => e instanceof Error);
  if (!(transaction && firstBad >= 0)) {
    if (transaction) steps.push({ text: "BEGIN", name: "", values: [] });
    for (const values of encoded) {
      if (values instanceof Error) {
        stepOf.push(undefined);
        continue;
      }
      stepOf.push(steps.length);
      steps.push({ text: query.sql, name: prepare ? query.statementName : "", values });
    }
    if (transaction) steps.push({ text: "COMMIT", name: "", values: [] });
  }
  const pooled = isPool(db);
  const client = !pooled
    ? db
    : signal === undefined
      ? await db.connect()
      : await checkOut(db, signal, query.name);
  if (query.readOnly !== true) markSentWrite(signal);
  let failure: unknown;
  let outcomes: Outcome[];
  try {
    outcomes = await pipelined(client, steps);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (pooled) {
      (client as pg.PoolClient).release(
        failure !== undefined && isBroken(failure) ? (failure as Error) : undefined,
      );
    }
  }
  const results: Outcome[] = encoded.map((values, i) => {
    if (values instanceof Error) return { rows: [], command: "", error: values };
    const step = stepOf[i];
    return step === undefined
      ? { rows: [], command: "", error: new Error("not run") }
      : (outcomes[step] ?? { rows: [], command: "", error: new Error("no reply") });
  });
  if (!transaction) return results;
  const failed = results.findIndex((r) => r.error !== undefined);
  const committed = outcomes[outcomes.length - 1]?.command === "COMMIT";
  if (failed < 0 && committed) return results;
  // All or nothing: the first failure keeps its error, every other item was undone.
  const cause =
    results[failed]?.error ?? outcomes[outcomes.length - 1]?.error ?? new Error("not committed");
  const at = failed < 0 ? items.length : failed;
  return results.map((r, i) =>
    i === failed
      ? r
      : { rows: [], command: "", error: new BatchRolledBackError(query.name, at, cause) },
  );
}

/** Runs a `:batchexec` query once per item; each result is the item's success or error. */
export async function runBatchExec<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  items: readonly Params[],
  opts?: BatchOptions,
): Promise<BatchResult<undefined>[]> {
  const outcomes = await runItems(db, query, items, opts);
  return outcomes.map((o) =>
    o.error === undefined ? { ok: true, value: undefined } : { ok: false, error: o.error },
  );
}

/** Runs a `:batchone` query once per item: each item's row (null for none) or its error. */
export async function runBatchOne<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  items: readonly Params[],
  opts?: BatchOptions,
): Promise<BatchResult<Row | null>[]> {
  const outcomes = await runItems(db, query, items, opts);
  const template = templateOf(query);
  return outcomes.map((o): BatchResult<Row | null> => {
    if (o.error !== undefined) return { ok: false, error: o.error };
    if (o.rows.length > 1) {
      return { ok: false, error: new TooManyRowsError(query.name, o.rows.length) };
    }
    const first = o.rows[0];
    return { ok: true, value: first === undefined ? null : decodeRow(query, template, first) };
  });
}

/** Runs a `:batchmany` query once per item: each item's rows or its error. */
export async function runBatchMany<Params, Row>(
  db: Queryable,
  query: Query<Params, Row>,
  items: readonly Params[],
  opts?: BatchOptions,
): Promise<BatchResult<Row[]>[]> {
  const outcomes = await runItems(db, query, items, opts);
  const template = templateOf(query);
  return outcomes.map(
    (o): BatchResult<Row[]> =>
      o.error !== undefined
        ? { ok: false, error: o.error }
        : { ok: true, value: o.rows.map((r) => decodeRow(query, template, r)) },
  );
}
