// Handlers of example.data.v1.DataService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { withTransaction } from "@svcgen/runtime";
import { type CallContext, invalidField, RpcError, toJsonObject } from "@svcgen/runtime/grpc";
import type { EventContext } from "@svcgen/runtime/events";
import type { Pool, PoolClient } from "pg";
import {
  deleteOwnerRecords,
  deleteSharesWithUser,
  getRecordAccess,
  listRecordsByOwner,
  shareOwnRecord,
  softDeleteRecord,
  updateRecord,
} from "../../gen/db/data/records.js";
import type { RecordVisibility as RecordVisibilityLabel } from "../../gen/db/enums.js";
import {
  createDataServiceBound,
  emitRecordShared,
  type DataServiceBound,
  type DataServiceBoundOptions,
  type DataServiceHandlers,
} from "../../gen/grpc/data-service.js";
import { RecordVisibility } from "../../gen/proto/example/data/v1/data_pb.js";
import type { UserDeleted } from "../../gen/proto/example/events/v1/events_pb.js";
import { decodePageToken, encodePageToken } from "../shared/page-token.js";

/** The ErrorInfo domain of this service's own errors (svcgen.yaml `errors.domain`). */
const errorDomain = "svcgen-example";
/** Records per page of ListMyRecords when the request sets no page size. */
const defaultPageSize = 20;

const visibilityLabels = new Map<RecordVisibility, RecordVisibilityLabel>([
  [RecordVisibility.PRIVATE, "private"],
  [RecordVisibility.SHARED, "shared"],
  [RecordVisibility.PUBLIC, "public"],
]);
const visibilityNumbers = new Map<RecordVisibilityLabel, RecordVisibility>(
  [...visibilityLabels].map(([n, l]) => [l, n]),
);

/** The caller's user id; the service's rule (`authenticated`) guarantees there is one. */
function callerOf(ctx: CallContext): string {
  const uid = ctx.principal?.uid;
  if (uid === undefined) throw new RpcError(status.UNAUTHENTICATED, "Sign in to use records");
  return uid;
}

/**
 * Why a write to record `id` by `caller` matched no row: NOT_FOUND when the caller cannot
 * read the record (its existence is not revealed), PERMISSION_DENIED when they can but do not
 * own it, else the record is theirs and `stale` decides (a version mismatch).
 */
async function writeRefusal(
  db: Pool,
  id: bigint,
  caller: string,
  ctx: CallContext,
  stale?: (currentVersion: number) => RpcError,
): Promise<RpcError> {
  const access = await getRecordAccess(db, { id, readerId: caller }, { signal: ctx.signal });
  if (access === null) return new RpcError(status.NOT_FOUND, `Record ${id} not found`);
  if (!access.isOwner) {
    return new RpcError(status.PERMISSION_DENIED, `Only the owner may change record ${id}`, {
      errorInfo: { reason: "RECORD_NOT_OWNED", domain: errorDomain },
    });
  }
  if (stale !== undefined) return stale(access.version);
  // The record changed between the write and this read (deleted and restored, say).
  return new RpcError(status.ABORTED, `Record ${id} changed concurrently; retry`);
}

/** Serves example.data.v1.DataService: register with `addDataService(server, new DataServiceImpl(pool))`. */
export class DataServiceImpl implements DataServiceHandlers {
  private readonly bound: DataServiceBound;
  private readonly db: Pool;

  constructor(db: Pool, options: DataServiceBoundOptions = {}) {
    this.db = db;
    this.bound = createDataServiceBound(db, options);
  }

  getRecord(
    request: Parameters<DataServiceHandlers["getRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["getRecord"]> {
    return this.bound.getRecord(request, ctx);
  }

  /** Keyset pagination by id, newest first; the page token holds the last id sent. */
  async listMyRecords(
    request: Parameters<DataServiceHandlers["listMyRecords"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["listMyRecords"]> {
    const after = decodePageToken(request.pageToken, "records");
    let beforeId: bigint | null = null;
    if (after !== undefined) {
      if (!/^[1-9]\d{0,18}$/.test(after))
        throw invalidField("page_token", "not a page token of this list");
      beforeId = BigInt(after);
    }
    const pageSize = request.pageSize ?? defaultPageSize;
    const rows = await listRecordsByOwner(
      this.db,
      { ownerId: callerOf(ctx), beforeId, rowLimit: BigInt(pageSize + 1) },
      { signal: ctx.signal },
    );
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      records: page.map((row) => ({
        id: row.id,
        title: row.title,
        tags: row.tags,
        visibility: visibilityNumbers.get(row.visibility) ?? RecordVisibility.UNSPECIFIED,
        version: row.version,
        updatedAt: timestampFromDate(row.updatedAt),
      })),
      nextPageToken:
        rows.length > pageSize && last !== undefined
          ? encodePageToken(String(last.id), "records")
          : undefined,
    };
  }

  createRecord(
    request: Parameters<DataServiceHandlers["createRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["createRecord"]> {
    return this.bound.createRecord(request, ctx);
  }

  /**
   * Optimistic concurrency: the UPDATE matches only the owner's record at the version the
   * caller read. No match is explained by {@link writeRefusal}; a stale version is ABORTED
   * with ErrorInfo reason RECORD_VERSION_MISMATCH and the current version in its metadata, so
   * the client can re-read and retry.
   */
  async updateRecord(
    request: Parameters<DataServiceHandlers["updateRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["updateRecord"]> {
    const caller = callerOf(ctx);
    const visibility = visibilityLabels.get(request.visibility);
    if (visibility === undefined) throw invalidField("visibility", "not a known visibility");
    const row = await updateRecord(
      this.db,
      {
        id: request.id,
        ownerId: caller,
        version: request.version,
        title: request.title,
        body: request.body ?? {},
        tags: request.tags,
        visibility,
      },
      { signal: ctx.signal },
    );
    if (row === null) {
      throw await writeRefusal(
        this.db,
        request.id,
        caller,
        ctx,
        (current) =>
          new RpcError(
            status.ABORTED,
            `Record ${request.id} is at version ${current}, not ${request.version}: read it again`,
            {
              errorInfo: {
                reason: "RECORD_VERSION_MISMATCH",
                domain: errorDomain,
                metadata: {
                  currentVersion: String(current),
                  requestedVersion: String(request.version),
                },
              },
            },
          ),
      );
    }
    return {
      id: row.id,
      ownerId: row.ownerId,
      title: row.title,
      body: toJsonObject(row.body, "body"),
      tags: row.tags,
      visibility: visibilityNumbers.get(row.visibility) ?? RecordVisibility.UNSPECIFIED,
      version: row.version,
      createdAt: timestampFromDate(row.createdAt),
      updatedAt: timestampFromDate(row.updatedAt),
      canWrite: row.canWrite,
    };
  }

  /** Soft delete by the owner; NOT_FOUND / PERMISSION_DENIED as for UpdateRecord. */
  async deleteRecord(
    request: Parameters<DataServiceHandlers["deleteRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["deleteRecord"]> {
    const caller = callerOf(ctx);
    const deleted = await softDeleteRecord(
      this.db,
      { id: request.id, ownerId: caller },
      { signal: ctx.signal },
    );
    if (deleted === 0) throw await writeRefusal(this.db, request.id, caller, ctx);
    return {};
  }

  /**
   * Read access for another user, given by the owner. A second share with the same user
   * violates record_shares' primary key: ALREADY_EXISTS through the generated error map.
   */
  async shareRecord(
    request: Parameters<DataServiceHandlers["shareRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["shareRecord"]> {
    const caller = callerOf(ctx);
    if (request.userId.toLowerCase() === caller.toLowerCase()) {
      throw invalidField("user_id", "a record cannot be shared with its owner");
    }
    // The share and its record.shared event commit together (the recipient's notification).
    const shared = await withTransaction(
      this.db,
      async (tx) => {
        const n = await shareOwnRecord(
          tx,
          { recordId: request.recordId, ownerId: caller, userId: request.userId },
          { signal: ctx.signal },
        );
        if (n > 0) {
          await emitRecordShared(
            tx,
            { recordId: request.recordId, ownerId: caller, userId: request.userId },
            String(request.recordId),
          );
        }
        return n;
      },
      { signal: ctx.signal },
    );
    if (shared === 0) throw await writeRefusal(this.db, request.recordId, caller, ctx);
    return {};
  }

  recordStats(
    request: Parameters<DataServiceHandlers["recordStats"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["recordStats"]> {
    return this.bound.recordStats(request, ctx);
  }

  listSharedWithMe(
    request: Parameters<DataServiceHandlers["listSharedWithMe"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["listSharedWithMe"]> {
    return this.bound.listSharedWithMe(request, ctx);
  }

  exportMyRecords(
    request: Parameters<DataServiceHandlers["exportMyRecords"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["exportMyRecords"]> {
    return this.bound.exportMyRecords(request, ctx);
  }

  unshareRecord(
    request: Parameters<DataServiceHandlers["unshareRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["unshareRecord"]> {
    return this.bound.unshareRecord(request, ctx);
  }

  /**
   * A deleted account's records go (with the shares they had), and the shares other users gave
   * it; in the consumer's transaction, so a redelivered event (skipped) or a second run
   * (nothing left to delete) changes nothing more.
   */
  async onUserDeleted(event: UserDeleted, tx: PoolClient, _ctx: EventContext): Promise<void> {
    await deleteOwnerRecords(tx, { ownerId: event.userId });
    await deleteSharesWithUser(tx, { userId: event.userId });
  }
}
