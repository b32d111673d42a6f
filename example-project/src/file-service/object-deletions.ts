// Deleting S3 objects whose files' rows are gone, without ever forgetting one. The key of such
// an object is queued in file_object_deletions (migrations/file/003) by the statement that
// deletes its row, so queueing commits or rolls back with the row. The object is deleted after
// that commit, then the key forgotten; a failed delete stays queued and is retried with backoff.

import type { Pool } from "pg";
import {
  claimObjectDeletions,
  forgetObjectDeletion,
  nextObjectDeletionDue,
  postponeObjectDeletion,
} from "../../gen/db/file/files.js";
import { deleteObject, type S3Target } from "./storage.js";

/** Settings of {@link ObjectDeletions}; every one has a default. */
export interface ObjectDeletionsOptions {
  /** Delay before the first retry of a failed delete; doubles per failure. Default 5 s. */
  readonly retryBaseMs?: number;
  /** Longest delay between retries. Default one hour. */
  readonly retryMaxMs?: number;
  /** A sweep of every due key runs at least this often (the safety net). Default 5 minutes. */
  readonly sweepIntervalMs?: number;
  /**
   * Told about every failure (a delete that will be retried, or a sweep that could not read
   * the queue). Default: a process warning, code `FILE_OBJECT_DELETE_FAILED`.
   */
  readonly onFailure?: (message: string, error: unknown) => void;
}

/** Keys leased per query, and for how long: a sweep that dies mid-batch frees them then. */
const batchSize = 100;
const leaseMs = 60_000;

function warn(message: string, error: unknown): void {
  process.emitWarning(message, { code: "FILE_OBJECT_DELETE_FAILED", detail: String(error) });
}

/**
 * The S3 side of file deletion. `delete(keys)` deletes the objects of keys just queued (after
 * the commit that queued them); a sweep deletes whatever is due: at start (keys left by a
 * process that died between a commit and its deletes, or queued by an instance without S3),
 * when a retry is due, and every `sweepIntervalMs`. Instances share the queue: a key is leased
 * to one of them at a time. Timers do not keep the process alive; they stop once the pool ends.
 */
export class ObjectDeletions {
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly sweepIntervalMs: number;
  private readonly onFailure: (message: string, error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (epoch ms). */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly db: Pool,
    private readonly target: S3Target,
    options: ObjectDeletionsOptions = {},
  ) {
    this.retryBaseMs = options.retryBaseMs ?? 5000;
    this.retryMaxMs = options.retryMaxMs ?? 3_600_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 300_000;
    this.onFailure = options.onFailure ?? warn;
    this.wakeIn(0);
  }

  /**
   * Deletes the objects of `keys`, which must be queued and committed. Never rejects: a key
   * whose object could not be deleted stays queued, is reported and is retried later.
   */
  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      for (let i = 0; i < keys.length; i += batchSize) {
        await this.run(keys.slice(i, i + batchSize));
      }
    } catch (error) {
      // The queue could not be read or written: the keys stay queued for the next sweep.
      this.onFailure(`Deleting ${keys.length} S3 objects failed; a later sweep retries`, error);
      this.wakeIn(this.retryBaseMs);
    }
  }

  /** Deletes the objects of every due key, batch by batch. Never rejects (see {@link delete}). */
  async sweep(): Promise<void> {
    try {
      while ((await this.run(null)) === batchSize) {
        // A full batch: there may be more.
      }
      // Sleep until the next queued key is due (a retry requested while an earlier one was
      // pending would otherwise wait a whole sweep interval), at most a sweep interval, and
      // at least a moment (a key another instance is claiming right now is still due).
      const next = await nextObjectDeletionDue(this.db);
      const dueInMs = next?.dueInMs ?? null;
      this.wakeIn(
        dueInMs === null ? this.sweepIntervalMs : Math.min(this.sweepIntervalMs, Math.max(50, dueInMs)),
      );
    } catch (error) {
      this.onFailure("Sweeping the S3 objects to delete failed; retrying", error);
      this.wakeIn(this.retryBaseMs);
    }
  }

  /** Leases due keys (only `keys` when given) and deletes their objects; how many it leased. */
  private async run(keys: readonly string[] | null): Promise<number> {
    const leased = await claimObjectDeletions(this.db, {
      leaseMs,
      keys,
      rowLimit: BigInt(batchSize),
    });
    for (const { storageKey, attempts } of leased) {
      try {
        // Deleting an object that is gone already succeeds: a retry after a lost answer is fine.
        await deleteObject(this.target, storageKey);
      } catch (error) {
        const delayMs = Math.min(this.retryBaseMs * 2 ** attempts, this.retryMaxMs);
        await postponeObjectDeletion(this.db, {
          storageKey,
          lastError: error instanceof Error ? error.message : String(error),
          delayMs,
        });
        this.onFailure(`S3 object ${storageKey} was not deleted; retrying in ${delayMs} ms`, error);
        this.wakeIn(delayMs);
        continue;
      }
      await forgetObjectDeletion(this.db, { storageKey });
    }
    return leased.length;
  }

  /** Runs a sweep in `ms`, unless one is due sooner already. */
  private wakeIn(ms: number): void {
    const at = Date.now() + ms;
    if (at >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      // The service is shutting down (or has): its pool takes no more queries.
      if (this.db.ending) return;
      void this.sweep();
    }, ms);
    this.timer.unref();
  }
}
