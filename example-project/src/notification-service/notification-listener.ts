// Live notifications: one LISTEN connection per process, shared by every subscription.

import { status } from "@grpc/grpc-js";
import { RpcError } from "@svcgen/runtime/grpc";
import type { Notification as PgNotification, Pool, PoolClient } from "pg";

/** The channel migrations/notifications/002_notify_on_insert.sql notifies on every insert. */
export const notificationChannel = "notification_created";

/** What a subscription hears from the {@link NotificationListener}. */
export interface NotificationSubscriber {
  /** A notification of the subscriber's user committed with this id. */
  announce(id: bigint): void;
  /** The feed broke (its connection was lost): end the subscription with this error. */
  fail(error: RpcError): void;
}

/**
 * Fans the `notification_created` channel out to subscriptions by user id. It checks one
 * connection out of the service's pool for LISTEN when the first subscription starts and
 * returns it when the last one ends, so an idle service holds no extra connection and the
 * pool can close on shutdown. NOTIFY is delivered at commit, so an announced row is visible.
 */
export class NotificationListener {
  private readonly pool: Pool;
  private readonly byUser = new Map<string, Set<NotificationSubscriber>>();
  private client: PoolClient | undefined;
  /** Connects and disconnects run one at a time, in call order. */
  private transition: Promise<void> = Promise.resolve();

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** How many subscriptions are active (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /**
   * Adds `subscriber` for `userId` (a lowercase uuid); resolves once LISTEN is active, so every
   * notification committed after that is announced. Returns the function that removes it.
   */
  async subscribe(userId: string, subscriber: NotificationSubscriber): Promise<() => void> {
    await this.serialized(async () => {
      if (this.client === undefined) this.client = await this.connect();
      let set = this.byUser.get(userId);
      if (set === undefined) {
        set = new Set();
        this.byUser.set(userId, set);
      }
      set.add(subscriber);
    });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const set = this.byUser.get(userId);
      set?.delete(subscriber);
      if (set?.size === 0) this.byUser.delete(userId);
      if (this.byUser.size === 0) void this.serialized(() => this.disconnectIfIdle());
    };
  }

  private serialized(step: () => Promise<void>): Promise<void> {
    const run = this.transition.then(step);
    this.transition = run.catch(() => undefined);
    return run;
  }

  private async connect(): Promise<PoolClient> {
    const client = await this.pool.connect();
    client.on("notification", this.onNotification);
    client.on("error", this.onError);
    try {
      await client.query(`LISTEN ${notificationChannel}`);
    } catch (e) {
      this.detach(client);
      client.release(e instanceof Error ? e : true);
      throw e;
    }
    return client;
  }

  private async disconnectIfIdle(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.byUser.size > 0) return;
    this.client = undefined;
    this.detach(client);
    try {
      await client.query(`UNLISTEN ${notificationChannel}`);
      client.release();
    } catch (e) {
      // A broken connection goes back destroyed, never to another caller.
      client.release(e instanceof Error ? e : true);
    }
  }

  private detach(client: PoolClient): void {
    client.off("notification", this.onNotification);
    client.off("error", this.onError);
  }

  private readonly onNotification = (msg: PgNotification): void => {
    if (msg.channel !== notificationChannel || msg.payload === undefined) return;
    const sep = msg.payload.lastIndexOf(":");
    const userId = msg.payload.slice(0, sep);
    const id = msg.payload.slice(sep + 1);
    const set = this.byUser.get(userId);
    if (set === undefined || !/^\d+$/.test(id)) return;
    for (const subscriber of set) subscriber.announce(BigInt(id));
  };

  /** The LISTEN connection died: every subscription ends UNAVAILABLE (clients resubscribe). */
  private readonly onError = (error: Error): void => {
    const client = this.client;
    if (client === undefined) return;
    this.client = undefined;
    this.detach(client);
    client.release(error);
    const failure = new RpcError(
      status.UNAVAILABLE,
      "The notification feed lost its database connection: subscribe again with after_id",
      { cause: error },
    );
    const subscribers = [...this.byUser.values()].flatMap((set) => [...set]);
    this.byUser.clear();
    for (const subscriber of subscribers) subscriber.fail(failure);
  };
}
