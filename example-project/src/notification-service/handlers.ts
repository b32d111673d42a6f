// Handlers of example.notifications.v1.NotificationService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import type { CallContext } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import {
  type NotificationServiceBound,
  type NotificationServiceBoundOptions,
  type NotificationServiceHandlers,
  createNotificationServiceBound,
} from "../../gen/grpc/notification-service.js";

/** Serves example.notifications.v1.NotificationService: register with `addNotificationService(server, new NotificationServiceImpl(pool))`. */
export class NotificationServiceImpl implements NotificationServiceHandlers {
  private readonly bound: NotificationServiceBound;

  constructor(db: Pool, options: NotificationServiceBoundOptions = {}) {
    this.bound = createNotificationServiceBound(db, options);
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
}
