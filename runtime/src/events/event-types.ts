/** The shapes shared by the outbox writer, the relay, the transports and the consumers. */

/** An event as stored in the outbox and handed to consumers. */
export interface StoredEvent {
  /** A UUID, unique per event: the dedupe key of transports and of the processed-events table. */
  readonly id: string;
  /** Dot-separated words of letters, digits, `_` and `-` (`user.signed_up`): the NATS subject's tail. */
  readonly topic: string;
  /** The ordering key (an aggregate's id); events of one key are delivered in order. `""` is no key. */
  readonly key: string;
  /** The payload's bytes, normally a protobuf message in binary form. */
  readonly payload: Uint8Array;
  /** How to read `payload`: `application/x-protobuf` by default, or `application/json`. */
  readonly contentType: string;
  /** String headers carried to consumers, such as W3C trace context (`traceparent`). */
  readonly headers: Readonly<Record<string, string>>;
  /** When the producer wrote the event (its transaction's start time). */
  readonly createdAt: Date;
}

/**
 * A transport carries events from the relay to consumers. `createPostgresTransport` (default)
 * and `createNatsTransport` implement it; consumers of one group must use the same transport
 * as the relay that feeds them.
 */
export interface EventTransport {
  /** `postgres` or `nats`, for logs. */
  readonly kind: string;
  /**
   * Delivers a batch durably and resolves once the transport acknowledged every event;
   * rejects when any was not acknowledged (the relay then retries the whole batch later, so a
   * transport must drop duplicates by event id). Events arrive in outbox order.
   */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /**
   * Starts delivering the events of `topics` to one consumer group: `deliver` is called one
   * event at a time, in order per topic; resolving acknowledges the event, rejecting leaves it
   * unacknowledged so it is delivered again later.
   */
  subscribe(options: SubscribeOptions): Promise<TransportSubscription>;
  /** Releases what the transport opened itself (connections). Never closes a caller's pool. */
  close(): Promise<void>;
}

/** What a consumer asks of a transport. */
export interface SubscribeOptions {
  /** The consumer group: every group sees every event once; instances of a group share them. */
  readonly group: string;
  /** The topics to receive. */
  readonly topics: readonly string[];
  /** Handles one event; see {@link EventTransport.subscribe}. `progress` tells the transport the event is still being worked on. */
  readonly deliver: (event: StoredEvent, progress: () => void) => Promise<void>;
  /** Called with errors the subscription recovers from by itself (a lost connection). */
  readonly onError: (error: unknown) => void;
}

/** A running subscription. */
export interface TransportSubscription {
  /** Stops fetching, waits for the event being delivered, and releases connections. */
  stop(): Promise<void>;
}

/** Where the events layer reports what went wrong; defaults to nothing (pass `console`, pino...). */
export interface EventLogger {
  warn(message: string, details?: Readonly<Record<string, unknown>>): void;
  error(message: string, details?: Readonly<Record<string, unknown>>): void;
}

/** A logger that drops everything: the default, since a library must not write to stdout. */
export const silentLogger: EventLogger = {
  warn() {},
  error() {},
};

/**
 * Exponential backoff with full jitter in [delay/2, delay]: `baseMs * 2^(attempt-1)`, capped at
 * `maxMs`. The delays are persisted (next_attempt_at) or awaited between handler attempts.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay / 2 + (Math.random() * delay) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The message of any thrown value, for logs and `last_error` columns. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What a generated consumer method receives beside the decoded payload and the transaction:
 * the event's identity and metadata, and the consumer group handling it.
 */
export interface EventContext {
  /** The event's UUID (the dedupe key: a redelivery has the same id). */
  readonly id: string;
  readonly topic: string;
  /** The ordering key, `""` for none. */
  readonly key: string;
  /** When the producer wrote it. */
  readonly createdAt: Date;
  /** The producer's headers (trace context). */
  readonly headers: Readonly<Record<string, string>>;
  /** The consumer group handling it. */
  readonly group: string;
  /**
   * Runs `step` once the transaction that records the event as processed has committed, and
   * never after a rollback: for effects outside the database that must follow the data, like
   * deleting an object whose row the handler deleted. The consumer waits for it before the
   * next event, but it is not durable: a process that dies between the commit and the step
   * never runs it, so record the work through `tx` first when it must not be lost. A step that
   * throws is logged (`warn`) and not retried.
   */
  afterCommit(step: () => Promise<void> | void): void;
}
