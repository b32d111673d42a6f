/**
 * Parse/Describe of many statements without executing them, pipelined on one connection.
 *
 * node-postgres sends one query at a time and waits for ReadyForQuery before the next; for
 * a thousand statements that is a thousand round trips. This submittable writes every
 * Parse/Describe/Sync at once and consumes the replies in order (each Sync isolates an error
 * to its own statement). It keeps itself the client's active query until the last
 * ReadyForQuery, which is the one piece of node-postgres internals it relies on (pg is pinned).
 */
import type pg from "pg";

/** A result field of a described statement. */
export interface DescribedField {
  readonly name: string;
  /** OID of the table the column is a plain reference to, or 0. */
  readonly tableOid: number;
  /** Attribute number within that table, or 0. */
  readonly columnAttr: number;
  readonly typeOid: number;
}

/** What the server said about one statement. */
export type DescribeResult =
  | {
      readonly ok: true;
      readonly paramOids: readonly number[];
      /** Empty for a statement that returns no rows. */
      readonly fields: readonly DescribedField[];
    }
  | {
      readonly ok: false;
      readonly message: string;
      /** SQLSTATE. */
      readonly code: string | undefined;
      /** 1-based character offset into the statement, when the server gave one. */
      readonly position: number | undefined;
      readonly detail: string | undefined;
      readonly hint: string | undefined;
    };

interface Slot {
  paramOids: number[];
  fields: DescribedField[];
  error: DescribeResult | undefined;
}

/** The parts of pg's Client and Connection this module touches. */
interface ClientInternals {
  activeQuery: unknown;
  readyForQuery: boolean;
}
interface ConnectionLike {
  parse(q: { text: string; name: string; types: number[] }): void;
  describe(q: { type: "S" | "P"; name: string }): void;
  sync(): void;
  on(event: string, fn: (msg: unknown) => void): void;
  removeListener(event: string, fn: (msg: unknown) => void): void;
}

class DescribeBatch {
  readonly #client: ClientInternals;
  readonly #sqls: readonly string[];
  readonly #slots: Slot[];
  #index = 0;
  #connection: ConnectionLike | undefined;
  readonly #done: (results: DescribeResult[]) => void;
  readonly #fail: (err: Error) => void;
  readonly #onParams = (msg: unknown) => {
    const slot = this.#slots[this.#index];
    if (slot !== undefined) slot.paramOids = [...(msg as { dataTypeIDs: number[] }).dataTypeIDs];
  };

  constructor(
    client: ClientInternals,
    sqls: readonly string[],
    done: (results: DescribeResult[]) => void,
    fail: (err: Error) => void,
  ) {
    this.#client = client;
    this.#sqls = sqls;
    this.#slots = sqls.map(() => ({ paramOids: [], fields: [], error: undefined }));
    this.#done = done;
    this.#fail = fail;
  }

  /** Called by node-postgres when this becomes the active query. */
  submit(connection: ConnectionLike): void {
    this.#connection = connection;
    connection.on("parameterDescription", this.#onParams);
    for (const text of this.#sqls) {
      connection.parse({ text, name: "", types: [] });
      connection.describe({ type: "S", name: "" });
      connection.sync();
    }
  }

  handleRowDescription(msg: {
    fields: { name: string; tableID: number; columnID: number; dataTypeID: number }[];
  }): void {
    const slot = this.#slots[this.#index];
    if (slot === undefined) return;
    slot.fields = msg.fields.map((f) => ({
      name: f.name,
      tableOid: f.tableID,
      columnAttr: f.columnID,
      typeOid: f.dataTypeID,
    }));
  }

  handleError(err: pg.DatabaseError): void {
    // Not the server rejecting a statement (those carry a SQLSTATE and a severity) but the
    // connection failing: no ReadyForQuery will follow, so the whole batch fails.
    if (typeof err.severity !== "string") {
      this.#connection?.removeListener("parameterDescription", this.#onParams);
      this.#fail(err);
      return;
    }
    const slot = this.#slots[this.#index];
    if (slot !== undefined) {
      const pos = err.position === undefined ? undefined : Number.parseInt(err.position, 10);
      slot.error = {
        ok: false,
        message: err.message,
        code: err.code,
        position: Number.isFinite(pos) ? pos : undefined,
        detail: err.detail,
        hint: err.hint,
      };
    }
    // The client dropped us as active query; the statement's ReadyForQuery is still to come.
    this.#client.activeQuery = this;
  }

  handleReadyForQuery(): void {
    this.#index++;
    if (this.#index < this.#sqls.length) {
      // Stay the active query until the last statement's ReadyForQuery.
      this.#client.activeQuery = this;
      this.#client.readyForQuery = false;
      return;
    }
    this.#connection?.removeListener("parameterDescription", this.#onParams);
    this.#done(
      this.#slots.map(
        (s) => s.error ?? { ok: true as const, paramOids: s.paramOids, fields: s.fields },
      ),
    );
  }

  // Messages a describe never produces; node-postgres calls them only for executed queries.
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

/**
 * Describes every statement in `sqls` on `client` (which must not be used concurrently) and
 * returns one result per statement, in order. Nothing is executed.
 */
export function describeStatements(
  client: pg.Client,
  sqls: readonly string[],
): Promise<DescribeResult[]> {
  if (sqls.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    // A connection lost mid-batch sends no more ReadyForQuery: fail instead of waiting forever.
    const lost = (err?: Error): void => {
      cleanup();
      reject(new Error(`the database connection was lost${err ? `: ${err.message}` : ""}`));
    };
    const cleanup = (): void => {
      client.off("end", lost);
      client.off("error", lost);
    };
    client.once("end", lost);
    client.once("error", lost);
    const batch = new DescribeBatch(
      client as unknown as ClientInternals,
      sqls,
      (results) => {
        cleanup();
        resolve(results);
      },
      lost,
    );
    client.query(batch as unknown as pg.Submittable);
  });
}
