/**
 * Structured logs for a generated service: pino, JSON lines to stdout by default (what a
 * platform's log shipper forwards), and straight to Loki as well when `LOKI_URL` is set.
 * Two channels: `log` for calls and errors, `security` for refused calls (auth failures,
 * permission denials), told apart by `channel: "security"`.
 */
import { type DestinationStream, type Logger, type LoggerOptions as PinoOptions, pino } from "pino";
import type { SecurityEvent } from "../auth/authenticate-hook.js";
import { createLokiTransport, type LokiTransport } from "./loki-transport.js";

/** Options of {@link createServiceLogger}; each falls back to the environment. */
export interface ServiceLoggerOptions {
  /** The `service` field and Loki label. */
  readonly service: string;
  /** Minimum level. Default `LOG_LEVEL`, else `info`; `silent` turns logging off. */
  readonly level?: string;
  /** Where JSON lines go besides Loki. Default stdout. */
  readonly destination?: DestinationStream;
  /** Loki base URL. Default `LOKI_URL`; unset or empty: no push. */
  readonly lokiUrl?: string;
  /** Extra headers for Loki (`LOKI_AUTHORIZATION` sets `Authorization` by default). */
  readonly lokiHeaders?: Readonly<Record<string, string>>;
  /** Options of the Loki transport beyond url and service (tests shorten its intervals). */
  readonly loki?: Partial<Parameters<typeof createLokiTransport>[0]>;
  /** The environment to read defaults from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * On SIGTERM or SIGINT, flush every line (Loki included) and exit 0. Default false: a
   * service with its own shutdown sequence calls `close()` as its last step instead.
   */
  readonly closeOnSignals?: boolean;
}

/** The loggers of one service. */
export interface ServiceLogger {
  /** Calls, errors, lifecycle. */
  readonly log: Logger;
  /**
   * The per-call lines of the call log: the same destinations and level, without the
   * redaction pass (their fields are fixed and never hold credentials; redaction was a third
   * of a line's cost).
   */
  readonly calls: Logger;
  /** Security events: one line per refused call, with `reason`. */
  readonly security: Logger;
  /** The Loki transport when pushing, for its stats. */
  readonly loki: LokiTransport | undefined;
  /** Flushes every line (Loki included, with retries); call last at shutdown. */
  close(): Promise<void>;
}

/** A {@link ServiceLogger}; see {@link ServiceLoggerOptions} for defaults. */
export function createServiceLogger(options: ServiceLoggerOptions): ServiceLogger {
  const env = options.env ?? process.env;
  const level = options.level ?? env.LOG_LEVEL ?? "info";
  const lokiUrl = options.lokiUrl ?? env.LOKI_URL;
  const base: PinoOptions = {
    level,
    base: { service: options.service },
    // Never log credentials even when a caller passes metadata or headers in a field.
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  let loki: LokiTransport | undefined;
  let streams: DestinationStream;
  if (lokiUrl !== undefined && lokiUrl !== "") {
    const authorization = env.LOKI_AUTHORIZATION;
    loki = createLokiTransport({
      ...options.loki,
      url: lokiUrl,
      service: options.service,
      headers: {
        ...(authorization === undefined || authorization === "" ? {} : { authorization }),
        ...options.lokiHeaders,
      },
    });
    streams = pino.multistream([
      { stream: destination, level: "trace" },
      { stream: loki.stream, level: "trace" },
    ]);
  } else {
    streams = destination;
  }
  const log = pino(base, streams);
  const { redact: _unused, ...unredacted } = base;
  const calls = pino(unredacted, streams);
  const security = log.child({ channel: "security" });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.flush();
      await loki?.close();
    })();
    return closing;
  };
  if (options.closeOnSignals === true) {
    const onSignal = (): void => {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { log, calls, security, loki, close };
}

/**
 * A listener for the auth layer's security events (`onSecurityEvent`) that writes one line
 * per refused call to the security channel, with the bounded reason and never the token.
 */
export function securityEventLogger(security: {
  warn(fields: object, message: string): void;
}): (event: SecurityEvent) => void {
  return (event) => {
    security.warn(
      {
        event: event.kind,
        reason: event.reason,
        method: event.method,
        ...(event.peer === undefined ? {} : { peer: event.peer }),
        ...(event.uid === undefined ? {} : { uid: event.uid }),
        ...(event.requestId === undefined ? {} : { request_id: event.requestId }),
      },
      event.kind === "permission_denied" ? "Permission denied" : "Authentication failed",
    );
  };
}
