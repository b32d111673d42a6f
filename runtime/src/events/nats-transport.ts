/**
 * The NATS JetStream transport, for teams that outgrow one database's notifications: the relay
 * publishes each event to a durable stream (`<subjectPrefix>.<topic>`) with `Nats-Msg-Id` set
 * to the event id, so JetStream drops a relay's re-publish inside the duplicate window; each
 * consumer group reads through one durable pull consumer per topic with explicit acks, and an
 * event not acknowledged (consumer down, handler crashed) is delivered again after `ackWaitMs`,
 * or sooner after a negative ack with backoff.
 */
// Types only: the client library is loaded on first use, so `@svcgen/runtime/events` works
// without the optional `nats` package for projects on the PostgreSQL transport.
import type { ConnectionOptions, JetStreamClient, JsMsg, NatsConnection } from "nats";

type NatsLibrary = typeof import("nats");

import type {
  EventLogger,
  EventTransport,
  StoredEvent,
  SubscribeOptions,
  TransportSubscription,
} from "./event-types.js";
import { backoffDelay, errorMessage, silentLogger } from "./event-types.js";

/** Options of {@link createNatsTransport}. */
export interface NatsTransportOptions {
  /** Server URLs. Default `nats://127.0.0.1:4222`. Ignored when `connection` is given. */
  readonly servers?: string | readonly string[] | undefined;
  /** Further options of `connect` (credentials, TLS, name). */
  readonly connectOptions?: Omit<ConnectionOptions, "servers"> | undefined;
  /** A connection the caller owns and closes; the transport then opens none. */
  readonly connection?: NatsConnection | undefined;
  /** The stream, created if missing (file storage, limits retention). Default `SVCGEN_EVENTS`. */
  readonly stream?: string | undefined;
  /** Subjects are `<subjectPrefix>.<topic>`; the stream takes `<subjectPrefix>.>`. Default `svcgen.events`. */
  readonly subjectPrefix?: string | undefined;
  /** JetStream's duplicate window for `Nats-Msg-Id` when the stream is created. Default 2 minutes. */
  readonly duplicateWindowMs?: number | undefined;
  /** How long a delivered event may stay unacknowledged before JetStream delivers it again. Default 30 000 ms. */
  readonly ackWaitMs?: number | undefined;
  /** Events a consumer fetches ahead. Default 100. */
  readonly batchSize?: number | undefined;
  /** First redelivery delay after a failed delivery (negative ack); doubles up to 30 s. Default 200 ms. */
  readonly retryBaseMs?: number | undefined;
  /** How long a publish waits for the stream's acknowledgement. Default 5000 ms. */
  readonly publishTimeoutMs?: number | undefined;
  /** Default: silent. */
  readonly logger?: EventLogger | undefined;
}

// Headers that carry the event's own fields; everything else is the producer's headers.
const keyHeader = "Svcgen-Key";
const topicHeader = "Svcgen-Topic";
const createdHeader = "Svcgen-Created-At";
const contentTypeHeader = "Content-Type";
const reserved = new Set(
  [keyHeader, topicHeader, createdHeader, contentTypeHeader, "Nats-Msg-Id"].map((h) =>
    h.toLowerCase(),
  ),
);

/** An open connection with its JetStream client and the library it came from. */
interface Session {
  readonly lib: NatsLibrary;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
}

/** A JetStream name from a group or topic: characters other than letters, digits, `_` and `-` become `_`. */
function natsName(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** Creates the JetStream transport; it connects on first use. `close()` drains a connection it opened. */
export function createNatsTransport(options: NatsTransportOptions = {}): EventTransport {
  const stream = options.stream ?? "SVCGEN_EVENTS";
  const prefix = options.subjectPrefix ?? "svcgen.events";
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const batchSize = options.batchSize ?? 100;
  const retryBaseMs = options.retryBaseMs ?? 200;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
  const logger = options.logger ?? silentLogger;
  let ready: Promise<Session> | undefined;

  async function open(): Promise<Session> {
    const lib: NatsLibrary = await import("nats");
    const { nanos } = lib;
    const nc =
      options.connection ??
      (await lib.connect({
        ...options.connectOptions,
        servers: (options.servers as string | string[] | undefined) ?? "nats://127.0.0.1:4222",
      }));
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        storage: lib.StorageType.File,
        retention: lib.RetentionPolicy.Limits,
        duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
      });
    }
    return { lib, nc, js: nc.jetstream() };
  }

  function ensure(): Promise<Session> {
    if (ready === undefined) {
      ready = open();
      // A failed connect is retried on the next use instead of being cached.
      ready.catch(() => {
        ready = undefined;
      });
    }
    return ready;
  }

  async function publish(events: readonly StoredEvent[]): Promise<void> {
    const { lib, js } = await ensure();
    // All publishes leave on one connection in outbox order, so the stream stores them in that
    // order; then every acknowledgement is awaited.
    await Promise.all(
      events.map((event) => {
        const h = lib.headers();
        for (const [name, value] of Object.entries(event.headers)) {
          if (!reserved.has(name.toLowerCase())) h.set(name, value);
        }
        h.set(keyHeader, event.key);
        h.set(topicHeader, event.topic);
        h.set(createdHeader, event.createdAt.toISOString());
        h.set(contentTypeHeader, event.contentType);
        return js.publish(`${prefix}.${event.topic}`, event.payload, {
          msgID: event.id,
          headers: h,
          timeout: publishTimeoutMs,
        });
      }),
    );
  }

  async function subscribe(sub: SubscribeOptions): Promise<TransportSubscription> {
    const { lib, nc, js } = await ensure();
    const { nanos } = lib;
    const jsm = await nc.jetstreamManager();
    let stopped = false;
    const loops: Promise<void>[] = [];
    const iterators: { stop(): void }[] = [];
    for (const topic of sub.topics) {
      const durable = `${natsName(sub.group)}-${natsName(topic)}`;
      try {
        await jsm.consumers.info(stream, durable);
      } catch {
        await jsm.consumers.add(stream, {
          durable_name: durable,
          filter_subject: `${prefix}.${topic}`,
          ack_policy: lib.AckPolicy.Explicit,
          deliver_policy: lib.DeliverPolicy.All,
          ack_wait: nanos(ackWaitMs),
          max_deliver: -1,
        });
      }
      const consumer = await js.consumers.get(stream, durable);
      const messages = await consumer.consume({ max_messages: batchSize });
      iterators.push(messages);
      loops.push(
        (async () => {
          for await (const m of messages) {
            // Fetched ahead but not started before stop(): hand back at once, not after ackWait.
            if (stopped) {
              m.nak();
              continue;
            }
            try {
              await sub.deliver(fromMessage(m, topic), () => m.working());
              m.ack();
            } catch (err) {
              if (!stopped) sub.onError(err);
              m.nak(stopped ? 0 : backoffDelay(m.info.redeliveryCount, retryBaseMs, 30_000));
            }
          }
        })().catch((err: unknown) => {
          if (!stopped) {
            logger.error("JetStream consumer stopped", { durable, error: errorMessage(err) });
            sub.onError(err);
          }
        }),
      );
    }
    return {
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const it of iterators) it.stop();
        await Promise.all(loops);
        // Flush the acks and naks of the last events before the caller closes anything.
        await nc.flush().catch(() => undefined);
      },
    };
  }

  return {
    kind: "nats",
    publish,
    subscribe,
    async close() {
      const current = ready;
      ready = undefined;
      if (current === undefined || options.connection !== undefined) return;
      const { nc } = await current.catch(() => ({ nc: undefined }));
      await nc?.drain();
    },
  };
}

function fromMessage(m: JsMsg, subscribedTopic: string): StoredEvent {
  const headers: Record<string, string> = {};
  let key = "";
  let topic = subscribedTopic;
  let createdAt = new Date(m.info.timestampNanos / 1e6);
  let contentType = "application/x-protobuf";
  if (m.headers !== undefined) {
    for (const [name, values] of m.headers) {
      const value = values[0] ?? "";
      const lower = name.toLowerCase();
      if (lower === keyHeader.toLowerCase()) key = value;
      else if (lower === topicHeader.toLowerCase()) topic = value;
      else if (lower === createdHeader.toLowerCase()) createdAt = new Date(value);
      else if (lower === contentTypeHeader.toLowerCase()) contentType = value;
      else if (lower !== "nats-msg-id") headers[name] = value;
    }
  }
  return {
    id: m.headers?.get("Nats-Msg-Id") ?? "",
    topic,
    key,
    payload: m.data,
    contentType,
    headers,
    createdAt,
  };
}
