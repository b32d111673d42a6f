// Handlers of example.notifications.v1.NotificationService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { type CallContext, RpcError, toJsonObject } from "@svcgen/runtime/grpc";
import type { EventContext } from "@svcgen/runtime/events";
import type { Pool, PoolClient } from "pg";
import type { NotificationKind as NotificationKindLabel } from "../../gen/db/enums.js";
import { errorMap } from "../../gen/errors.js";
import {
  createNotificationForEvent,
  deleteUserNotifications,
  type GetNotificationRow,
  getNotification,
  notificationsAfter,
} from "../../gen/db/notifications/notifications.js";
import {
  createNotificationServiceBound,
  type NotificationServiceBound,
  type NotificationServiceBoundOptions,
  type NotificationServiceHandlers,
} from "../../gen/grpc/notification-service.js";
import {
  NotificationKind,
  type NotificationSchema,
} from "../../gen/proto/example/notifications/v1/notifications_pb.js";
import type {
  FileUploaded,
  RecordShared,
  UserDeleted,
  UserSignedUp,
} from "../../gen/proto/example/events/v1/events_pb.js";
import { NotificationListener } from "./notification-listener.js";

/**
 * How a subscription ends when the server starts draining for a shutdown: UNAVAILABLE, not OK.
 * A live feed is never complete, so OK would tell a client to stop listening; UNAVAILABLE is
 * what gRPC clients and retry policies read as "transient: try again" (on another instance,
 * since this one accepts no more calls). The ErrorInfo says where to resume: `resume_after_id`,
 * the last id this subscription sent (or the after_id it was given), when there is one.
 */
function drainingError(lastId: bigint | undefined): RpcError {
  return new RpcError(
    status.UNAVAILABLE,
    "The server is shutting down: subscribe again with after_id set to the last notification received",
    {
      errorInfo: {
        reason: "SERVER_DRAINING",
        domain: errorMap.domain,
        ...(lastId === undefined ? {} : { metadata: { resume_after_id: String(lastId) } }),
      },
    },
  );
}

/** Announced notifications a subscription may have queued before it is ended as too slow. */
const maxPending = 1000;
/** Rows per query of a subscription's catch-up (`after_id`). */
const catchUpPage = 500n;

const kindNumbers = new Map<NotificationKindLabel, NotificationKind>([
  ["info", NotificationKind.INFO],
  ["warning", NotificationKind.WARNING],
  ["mention", NotificationKind.MENTION],
  ["share", NotificationKind.SHARE],
]);

function toNotification(row: GetNotificationRow): MessageInitShape<typeof NotificationSchema> {
  return {
    id: row.id,
    kind: kindNumbers.get(row.kind) ?? NotificationKind.UNSPECIFIED,
    title: row.title,
    body: row.body ?? undefined,
    payload: row.payload === null ? undefined : toJsonObject(row.payload, "payload"),
    createdAt: timestampFromDate(row.createdAt),
    readAt: row.readAt === null ? undefined : timestampFromDate(row.readAt),
  };
}

/** Serves example.notifications.v1.NotificationService: register with `addNotificationService(server, new NotificationServiceImpl(pool))`. */
export class NotificationServiceImpl implements NotificationServiceHandlers {
  private readonly bound: NotificationServiceBound;
  private readonly db: Pool;
  /** The process's LISTEN connection, shared by every subscription. */
  readonly listener: NotificationListener;

  constructor(db: Pool, options: NotificationServiceBoundOptions = {}) {
    this.db = db;
    this.bound = createNotificationServiceBound(db, options);
    this.listener = new NotificationListener(db);
  }

  createNotification(
    request: Parameters<NotificationServiceHandlers["createNotification"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["createNotification"]> {
    return this.bound.createNotification(request, ctx);
  }

  listNotifications(
    request: Parameters<NotificationServiceHandlers["listNotifications"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["listNotifications"]> {
    return this.bound.listNotifications(request, ctx);
  }

  streamNotifications(
    request: Parameters<NotificationServiceHandlers["streamNotifications"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["streamNotifications"]> {
    return this.bound.streamNotifications(request, ctx);
  }

  markRead(
    request: Parameters<NotificationServiceHandlers["markRead"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["markRead"]> {
    return this.bound.markRead(request, ctx);
  }

  countUnread(
    request: Parameters<NotificationServiceHandlers["countUnread"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["countUnread"]> {
    return this.bound.countUnread(request, ctx);
  }

  /**
   * LISTEN first, then the catch-up (rows after `after_id`), then the live announcements: a
   * row committed during the catch-up is both read and announced, and sent once. Each
   * announced id is read back with the caller's user id, so no other user's row can leak. The
   * generator pulls the next announcement only when the runtime has written the previous
   * message (backpressure); announcements queue meanwhile, up to `maxPending`. When the server
   * starts draining, the subscription ends at once (see {@link drainingError}) rather than
   * hold the shutdown until its grace period ends.
   */
  async *subscribe(
    request: Parameters<NotificationServiceHandlers["subscribe"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["subscribe"]> {
    const uid = ctx.principal?.uid;
    if (uid === undefined) throw new RpcError(status.UNAUTHENTICATED, "Sign in to subscribe");
    const userId = uid.toLowerCase();
    /** The last id sent, where a resubscription resumes. */
    let lastId = request.afterId;
    if (ctx.draining.aborted) throw drainingError(lastId);
    const pending: bigint[] = [];
    let failure: RpcError | undefined;
    let wake: (() => void) | undefined;
    const unsubscribe = await this.listener.subscribe(userId, {
      announce: (id) => {
        if (pending.length < maxPending) pending.push(id);
        else
          failure ??= new RpcError(
            status.RESOURCE_EXHAUSTED,
            "The subscriber reads too slowly to keep up: subscribe again with after_id",
          );
        wake?.();
      },
      fail: (error) => {
        failure ??= error;
        wake?.();
      },
    });
    const onAbort = (): void => wake?.();
    ctx.signal.addEventListener("abort", onAbort);
    // Only streams watch the shared drain signal: unary calls never pay for it.
    ctx.draining.addEventListener("abort", onAbort);
    try {
      const caughtUp = new Set<bigint>();
      const afterId = request.afterId;
      if (afterId !== undefined) {
        let cursor = afterId;
        for (;;) {
          const rows = await notificationsAfter(
            this.db,
            { userId, afterId: cursor, rowLimit: catchUpPage },
            { signal: ctx.signal },
          );
          for (const row of rows) {
            caughtUp.add(row.id);
            cursor = row.id;
            yield toNotification(row);
            lastId = row.id;
          }
          if (BigInt(rows.length) < catchUpPage) break;
        }
      }
      for (;;) {
        // An aborted call (cancel, deadline, shutdown) is ended by the runtime with its status.
        if (ctx.signal.aborted) return;
        if (failure !== undefined) throw failure;
        if (ctx.draining.aborted) throw drainingError(lastId);
        const id = pending.shift();
        if (id === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        // Sent by the catch-up already, or older than what the client asked for.
        if (caughtUp.delete(id) || (afterId !== undefined && id <= afterId)) continue;
        const row = await getNotification(this.db, { id, userId }, { signal: ctx.signal });
        if (row !== null) {
          yield toNotification(row);
          lastId = row.id;
        }
      }
    } finally {
      ctx.draining.removeEventListener("abort", onAbort);
      ctx.signal.removeEventListener("abort", onAbort);
      unsubscribe();
    }
  }

  markAllRead(
    request: Parameters<NotificationServiceHandlers["markAllRead"]>[0],
    ctx: CallContext,
  ): ReturnType<NotificationServiceHandlers["markAllRead"]> {
    return this.bound.markAllRead(request, ctx);
  }

  /** A welcome note for the new user. */
  async onUserSignedUp(event: UserSignedUp, tx: PoolClient, ctx: EventContext): Promise<void> {
    await createNotificationForEvent(tx, {
      userId: event.userId,
      kind: "info",
      title: "Welcome",
      body: event.email === "" ? null : `Signed up as ${event.email}`,
      payload: { userId: event.userId },
      eventId: ctx.id,
    });
  }

  /** Tells the user a record was shared with them. */
  async onRecordShared(event: RecordShared, tx: PoolClient, ctx: EventContext): Promise<void> {
    await createNotificationForEvent(tx, {
      userId: event.userId,
      kind: "share",
      title: "A record was shared with you",
      body: null,
      payload: { recordId: String(event.recordId), ownerId: event.ownerId },
      eventId: ctx.id,
    });
  }

  /** Confirms an upload to its owner. */
  async onFileUploaded(event: FileUploaded, tx: PoolClient, ctx: EventContext): Promise<void> {
    await createNotificationForEvent(tx, {
      userId: event.ownerId,
      kind: "info",
      title: `Uploaded ${event.name}`,
      body: `${event.sizeBytes} bytes`,
      payload: { fileId: event.fileId },
      eventId: ctx.id,
    });
  }

  /** A deleted account's notifications go with it. */
  async onUserDeleted(event: UserDeleted, tx: PoolClient, _ctx: EventContext): Promise<void> {
    await deleteUserNotifications(tx, { userId: event.userId });
  }
}
