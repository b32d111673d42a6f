/**
 * A pino transport that pushes to Loki's HTTP API and loses nothing a short outage or a
 * shutdown would drop: lines are batched, a failed push is retried with exponential backoff
 * (the batch stays queued), and `close()` waits until every queued line is delivered or the
 * close deadline passes. pino-loki 3.0 neither retries nor awaits in-flight pushes on close.
 * Labels are `service` and `level` only, so Loki's stream count stays bounded.
 */
import type { Writable } from "node:stream";
import build from "pino-abstract-transport";

/** Options of {@link createLokiTransport}. */
export interface LokiTransportOptions {
  /** Loki's base URL (`http://loki:3100`); the push path is appended. */
  readonly url: string;
  /** The `service` label. */
  readonly service: string;
  /** Lines per push at most. Default 1000. */
  readonly batchSize?: number;
  /** Longest a line waits before a push, ms. Default 1000. */
  readonly intervalMs?: number;
  /** First retry delay, doubled per failure up to `maxBackoffMs`. Default 100. */
  readonly initialBackoffMs?: number;
  /** Longest retry delay, ms. Default 5000. */
  readonly maxBackoffMs?: number;
  /** Lines held while Loki is down; beyond it the oldest are dropped (and counted). Default 100,000. */
  readonly maxQueued?: number;
  /** How long `close()` keeps retrying before giving up, ms. Default 10,000. */
  readonly closeTimeoutMs?: number;
  /** Extra request headers (`Authorization` for a hosted Loki, `X-Scope-OrgID`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Counters of a {@link LokiTransport}. */
export interface LokiStats {
  /** Lines Loki accepted. */
  readonly sent: number;
  /** Pushes that failed (and were retried). */
  readonly failedPushes: number;
  /** Lines dropped because the queue was full. */
  readonly dropped: number;
  /** Lines waiting. */
  readonly queued: number;
}

/** A Loki transport: `stream` goes to pino (directly or in a multistream). */
export interface LokiTransport {
  readonly stream: Writable;
  /** Pushes everything queued now (retrying); resolves when the queue is empty. */
  flush(): Promise<void>;
  /** Ends the stream and delivers every line written before it, within `closeTimeoutMs`. */
  close(): Promise<void>;
  stats(): LokiStats;
}

const levelNames: Readonly<Record<number, string>> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

interface Entry {
  readonly level: string;
  readonly ns: string;
  readonly line: string;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** A transport pushing pino's lines to Loki; see {@link LokiTransportOptions} for defaults. */
export function createLokiTransport(options: LokiTransportOptions): LokiTransport {
  const pushUrl = `${options.url.replace(/\/+$/, "")}/loki/api/v1/push`;
  const batchSize = options.batchSize ?? 1000;
  const intervalMs = options.intervalMs ?? 1000;
  const initialBackoff = options.initialBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5000;
  const maxQueued = options.maxQueued ?? 100_000;
  const closeTimeout = options.closeTimeoutMs ?? 10_000;
  const queue: Entry[] = [];
  let sent = 0;
  let failedPushes = 0;
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let pumping: Promise<void> | undefined;
  let giveUpAt = Infinity;
  let lastNs = 0n;

  const push = async (batch: readonly Entry[]): Promise<void> => {
    const streams = new Map<string, [string, string][]>();
    for (const e of batch) {
      let values = streams.get(e.level);
      if (values === undefined) {
        values = [];
        streams.set(e.level, values);
      }
      values.push([e.ns, e.line]);
    }
    const body = JSON.stringify({
      streams: [...streams].map(([level, values]) => ({
        stream: { service: options.service, level },
        values,
      })),
    });
    const res = await fetch(pushUrl, {
      method: "POST",
      headers: { "content-type": "application/json", ...options.headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    // Drain the body so the connection can be reused.
    await res.arrayBuffer();
    // 4xx other than 429 will never succeed: retrying would only block the queue.
    if (!res.ok && (res.status >= 500 || res.status === 429)) {
      throw new Error(`Loki answered ${res.status}`);
    }
  };

  /** Pushes until the queue is empty, one push at a time so Loki sees lines in order. */
  const pump = async (): Promise<void> => {
    let backoff = initialBackoff;
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      try {
        await push(batch);
        queue.splice(0, batch.length);
        sent += batch.length;
        backoff = initialBackoff;
      } catch {
        failedPushes += 1;
        if (Date.now() >= giveUpAt) return;
        await sleep(Math.min(backoff, Math.max(0, giveUpAt - Date.now())));
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  };

  const flush = (): Promise<void> => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    pumping ??= pump().finally(() => {
      pumping = undefined;
    });
    // Lines queued while a push was in flight are sent by a second round.
    return pumping.then(() => (queue.length > 0 && Date.now() < giveUpAt ? flush() : undefined));
  };

  const add = (line: string): void => {
    let level = "info";
    let ms = Date.now();
    try {
      const parsed = JSON.parse(line) as { level?: unknown; time?: unknown };
      if (typeof parsed.level === "number")
        level = levelNames[parsed.level] ?? String(parsed.level);
      if (typeof parsed.time === "number") ms = parsed.time;
    } catch {
      // Not JSON: pushed as is, at level info.
    }
    // Loki rejects out-of-order duplicates within a stream: keep timestamps strictly increasing.
    let ns = BigInt(ms) * 1_000_000n;
    if (ns <= lastNs) ns = lastNs + 1n;
    lastNs = ns;
    queue.push({ level, ns: ns.toString(), line });
    if (queue.length > maxQueued) {
      queue.splice(0, queue.length - maxQueued);
      dropped += 1;
    }
    if (queue.length >= batchSize) void flush();
    else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, intervalMs);
      timer.unref();
    }
  };

  let readDone: Promise<void> = Promise.resolve();
  const stream = build(
    (source: AsyncIterable<string>) => {
      readDone = (async () => {
        for await (const line of source) add(line);
      })();
      return readDone;
    },
    {
      parse: "lines",
      metadata: false,
      close: async () => {
        await readDone;
        giveUpAt = Math.min(giveUpAt, Date.now() + closeTimeout);
        await flush();
      },
    },
  ) as unknown as Writable;

  let closing: Promise<void> | undefined;
  return {
    stream,
    flush,
    close() {
      closing ??= new Promise<void>((resolve) => {
        giveUpAt = Date.now() + closeTimeout;
        stream.once("close", () => resolve());
        stream.end();
      });
      return closing;
    },
    stats: () => ({ sent, failedPushes, dropped, queued: queue.length }),
  };
}
