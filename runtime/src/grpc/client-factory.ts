/**
 * Typed gRPC clients over grpc-js from protobuf-es service descriptors: promises for unary
 * and client-streaming calls, async iterables for server and bidi streams, a deadline,
 * metadata and an AbortSignal per call. A client balances across every instance its target
 * names (a list of addresses, or a DNS name with several records such as Fly.io's
 * `<app>.internal`): `round_robin` under grpc-js's outlier detection, set through the
 * service config, so an instance that goes away leaves the rotation at once and one that
 * answers with failures is ejected for a while.
 */

import type {
  DescMessage,
  DescMethod,
  DescService,
  Message,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type CallOptions as GrpcCallOptions,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { withCallTrace } from "../telemetry/trace-scope.js";
import type { MethodsOf } from "./server-handlers.js";
import { createMethodDefinition } from "./service-definition.js";

/** Options of one client call. */
export interface CallOptions {
  /** Absolute deadline (Date or epoch ms). Wins over `timeoutMs` when both are set. */
  readonly deadline?: Date | number;
  /** Deadline relative to the start of the call, in ms. Default: none. */
  readonly timeoutMs?: number;
  /** Request metadata: a grpc-js Metadata or a plain map of ASCII headers. */
  readonly metadata?: Metadata | Readonly<Record<string, string>>;
  /** Cancels the call (CANCELLED) when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * Where a client connects: `host:port` (a host name resolves through DNS to every record, so
 * `user.internal:50051` reaches every instance), a gRPC target URI (`dns:///host:port`,
 * `ipv4:10.0.0.1:50051,10.0.0.2:50051`, `ipv6:[fdaa::1]:50051`, `unix:/path`), or a list of
 * `ip:port` addresses (IPv4 or bracketed IPv6, not mixed: grpc-js resolves a list only as
 * literal addresses; for host names give one name that resolves to all instances).
 */
export type ClientTarget = string | readonly string[];

/**
 * grpc-js outlier detection (gRFC A50): every `intervalMs`, an instance whose calls failed
 * (any status but OK) more than `failurePercentage` % out of at least `requestVolume` calls
 * is ejected for `baseEjectionTimeMs` times the number of its ejections (at most
 * `maxEjectionTimeMs`); never more than `maxEjectionPercent` % of the instances at once.
 */
export interface OutlierDetectionOptions {
  /** Default 5000. */
  readonly intervalMs?: number;
  /** Default 15000. */
  readonly baseEjectionTimeMs?: number;
  /** Default 120000. */
  readonly maxEjectionTimeMs?: number;
  /** Default 50: with two instances one may be ejected, never both. */
  readonly maxEjectionPercent?: number;
  /**
   * Default 85. High on purpose: application errors (NOT_FOUND, INVALID_ARGUMENT) count as
   * failures too, and they hit every instance alike; only a broken instance fails this often.
   */
  readonly failurePercentage?: number;
  /** Calls an instance needs in an interval before it can be judged. Default 20. */
  readonly requestVolume?: number;
}

/** Options of {@link createServiceClient}. */
export interface ClientOptions {
  /** Channel credentials. Default: insecure (plain-text h2c, for loopback and tests). */
  readonly credentials?: ChannelCredentials;
  /**
   * grpc-js channel options (`grpc.max_receive_message_length`, ...); they win over the
   * options this factory sets (the service config, reconnect backoff).
   */
  readonly channelOptions?: ChannelOptions;
  /**
   * Balancing across instances: `round_robin` with outlier detection (default), or with
   * `outlierDetection: false` plain `round_robin`; `false` leaves grpc-js's default
   * (`pick_first`: one connection to the first address that answers).
   */
  readonly loadBalancing?: { readonly outlierDetection?: OutlierDetectionOptions | false } | false;
  /**
   * Reconnect backoff to an instance that went away, ms: it rejoins the rotation at most this
   * long after it is back. Default 1000 initial, 5000 maximum (grpc-js: 1 s, 120 s).
   */
  readonly reconnectBackoffMs?: { readonly initial?: number; readonly max?: number };
}

const isIpv4 = /^\d{1,3}(\.\d{1,3}){3}:\d+$/;
const isIpv6 = /^\[[0-9A-Fa-f:.]+\]:\d+$/;

/**
 * The grpc-js target string of `target`: a string as given (grpc-js resolves a bare
 * `host:port` through DNS), a list as an `ipv4:`/`ipv6:` multi-address URI. Throws a
 * TypeError naming the entry for an empty list, a host name in a list, or mixed families.
 */
export function resolveClientTarget(target: ClientTarget): string {
  if (typeof target === "string") return target;
  if (target.length === 0) throw new TypeError("Client target list is empty");
  const v4 = target.every((a) => isIpv4.test(a));
  const v6 = target.every((a) => isIpv6.test(a));
  if (!v4 && !v6) {
    const bad = target.find((a) => !isIpv4.test(a) && !isIpv6.test(a)) ?? target[0];
    throw new TypeError(
      bad !== undefined && !isIpv4.test(bad) && !isIpv6.test(bad)
        ? `Client target ${JSON.stringify(bad)} is not an ip:port address; a list holds IP addresses only (give a host name alone: it resolves to all its instances)`
        : "Client target list mixes IPv4 and IPv6 addresses; give one family, or a host name",
    );
  }
  return `${v4 ? "ipv4" : "ipv6"}:${target.join(",")}`;
}

function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * The service config (JSON) of `options.loadBalancing`; undefined for `false`. The shape
 * grpc-js parses: durations as `{seconds, nanos}`, snake_case fields.
 */
export function loadBalancingServiceConfig(
  loadBalancing: ClientOptions["loadBalancing"] = {},
): string | undefined {
  if (loadBalancing === false) return undefined;
  const roundRobin = { round_robin: {} };
  const od = loadBalancing.outlierDetection ?? {};
  if (od === false) return JSON.stringify({ loadBalancingConfig: [roundRobin] });
  return JSON.stringify({
    loadBalancingConfig: [
      {
        outlier_detection: {
          interval: duration(od.intervalMs ?? 5000),
          base_ejection_time: duration(od.baseEjectionTimeMs ?? 15_000),
          max_ejection_time: duration(od.maxEjectionTimeMs ?? 120_000),
          max_ejection_percent: od.maxEjectionPercent ?? 50,
          failure_percentage_ejection: {
            threshold: od.failurePercentage ?? 85,
            enforcement_percentage: 100,
            minimum_hosts: 2,
            request_volume: od.requestVolume ?? 20,
          },
          child_policy: [roundRobin],
        },
      },
    ],
  });
}

/** The channel options a client gets: balancing and backoff, then the caller's own. */
export function clientChannelOptions(options: ClientOptions = {}): ChannelOptions {
  const serviceConfig = loadBalancingServiceConfig(options.loadBalancing);
  return {
    ...(serviceConfig === undefined ? {} : { "grpc.service_config": serviceConfig }),
    "grpc.initial_reconnect_backoff_ms": options.reconnectBackoffMs?.initial ?? 1000,
    "grpc.max_reconnect_backoff_ms": options.reconnectBackoffMs?.max ?? 5000,
    ...options.channelOptions,
  };
}

/** The client method type for one method of a generated service. */
export type ClientMethodFor<M> = M extends {
  readonly methodKind: infer K;
  readonly input: infer I extends DescMessage;
  readonly output: infer O extends DescMessage;
}
  ? K extends "unary"
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : K extends "server_streaming"
      ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
      : K extends "client_streaming"
        ? (
            requests: AsyncIterable<MessageInitShape<I>>,
            options?: CallOptions,
          ) => Promise<MessageShape<O>>
        : (
            requests: AsyncIterable<MessageInitShape<I>>,
            options?: CallOptions,
          ) => AsyncIterable<MessageShape<O>>
  : never;

/** A typed client: one method per RPC (by local name) plus `close()`. */
export type ServiceClient<S> = {
  readonly [K in keyof MethodsOf<S>]: ClientMethodFor<MethodsOf<S>[K]>;
} & {
  /** Closes the channel; calls in flight fail with UNAVAILABLE. */
  close(): void;
};

function toMetadata(md: CallOptions["metadata"]): Metadata {
  if (md === undefined) return new Metadata();
  if (md instanceof Metadata) return md;
  const out = new Metadata();
  for (const [k, v] of Object.entries(md)) out.set(k, v);
  return out;
}

function toGrpcOptions(options: CallOptions | undefined): GrpcCallOptions {
  if (options?.deadline !== undefined) return { deadline: options.deadline };
  if (options?.timeoutMs !== undefined) return { deadline: Date.now() + options.timeoutMs };
  return {};
}

/** Cancels `call` when `signal` aborts; returns the function that stops listening. */
function linkSignal(signal: AbortSignal | undefined, call: { cancel(): void }): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    call.cancel();
    return () => {};
  }
  const onAbort = (): void => call.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * Writes every request of `requests` to a client stream with backpressure, then ends it.
 * Stops reading `requests` as soon as the call has ended (the server answered early, say
 * RESOURCE_EXHAUSTED, or the call was cancelled): the rest of a large source is never read.
 */
async function pump(
  requests: AsyncIterable<Message>,
  stream: {
    write(m: Message): boolean;
    end(): void;
    once(e: "drain" | "status", f: () => void): unknown;
    off(e: "drain", f: () => void): unknown;
    destroy(e?: Error): void;
  },
): Promise<void> {
  let ended = false;
  let wake: (() => void) | undefined;
  stream.once("status", () => {
    ended = true;
    wake?.();
  });
  try {
    for await (const r of requests) {
      if (ended) break;
      if (!stream.write(r)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          stream.once("drain", resolve);
        });
        if (wake !== undefined) stream.off("drain", wake);
        wake = undefined;
        if (ended) break;
      }
    }
    if (!ended) stream.end();
  } catch (e) {
    stream.destroy(e instanceof Error ? e : new Error(String(e)));
  }
}

/** An async iterable over a readable call that cancels the call when the consumer stops early. */
async function* readAll(
  stream: AsyncIterable<unknown> & { cancel(): void },
  unlink: () => void,
): AsyncGenerator<Message> {
  let completed = false;
  try {
    for await (const m of stream) yield m as Message;
    completed = true;
  } finally {
    unlink();
    if (!completed) stream.cancel();
  }
}

/**
 * A typed client of `service` at `target` (see {@link ClientTarget}), balancing across every
 * instance the target names (see {@link ClientOptions.loadBalancing}). Errors reject with
 * grpc-js's `ServiceError` (`code`, `details`, `metadata`); decode rich details from
 * `metadata.get("grpc-status-details-bin")` with `StatusSchema`.
 */
export function createServiceClient<S extends DescService>(
  service: S,
  target: ClientTarget,
  options: ClientOptions = {},
): ServiceClient<S> {
  const client = new Client(
    resolveClientTarget(target),
    options.credentials ?? grpcCredentials.createInsecure(),
    clientChannelOptions(options),
  );
  const methods: Record<string, unknown> = {};
  for (const method of service.methods) methods[method.localName] = clientMethod(client, method);
  methods.close = () => client.close();
  return methods as ServiceClient<S>;
}

/**
 * A call with one response (unary, client streaming): `start` makes the request, in the trace
 * of the caller's call, with `done` as its callback; the promise settles with the response, or
 * the error, and the caller's signal cancels the call until then.
 */
function singleResponse<C extends { cancel(): void }>(
  options: CallOptions | undefined,
  start: (done: (err: ServiceError | null, res?: Message) => void) => C,
  started?: (call: C) => void,
): Promise<Message> {
  return new Promise<Message>((resolve, reject) => {
    let unlink = (): void => {};
    const call = withCallTrace(options?.signal, () =>
      start((err, res) => {
        unlink();
        if (err !== null) reject(err);
        else if (res !== undefined) resolve(res);
        else reject(new Error("Empty response"));
      }),
    );
    unlink = linkSignal(options?.signal, call);
    started?.(call);
  });
}

function clientMethod(client: Client, method: DescMethod): unknown {
  const def = createMethodDefinition(method);
  switch (method.methodKind) {
    case "unary":
      return (request: Message, options?: CallOptions) =>
        singleResponse(options, (done) =>
          client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            request,
            toMetadata(options?.metadata),
            toGrpcOptions(options),
            done,
          ),
        );
    case "server_streaming":
      return (request: Message, options?: CallOptions) => {
        const call = withCallTrace(options?.signal, () =>
          client.makeServerStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            request,
            toMetadata(options?.metadata),
            toGrpcOptions(options),
          ),
        );
        return readAll(call, linkSignal(options?.signal, call));
      };
    case "client_streaming":
      return (requests: AsyncIterable<Message>, options?: CallOptions) =>
        singleResponse(
          options,
          (done) =>
            client.makeClientStreamRequest(
              def.path,
              def.requestSerialize,
              def.responseDeserialize,
              toMetadata(options?.metadata),
              toGrpcOptions(options),
              done,
            ),
          (call) => void pump(requests, call),
        );
    case "bidi_streaming":
      return (requests: AsyncIterable<Message>, options?: CallOptions) => {
        const call = withCallTrace(options?.signal, () =>
          client.makeBidiStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            toMetadata(options?.metadata),
            toGrpcOptions(options),
          ),
        );
        void pump(requests, call);
        return readAll(call, linkSignal(options?.signal, call));
      };
  }
}
