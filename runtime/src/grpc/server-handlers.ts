/**
 * Adapts typed, promise- and async-iterable-based handlers to grpc-js's callback API: one
 * place that authorises, validates requests with protovalidate, propagates deadline and
 * cancellation as an AbortSignal, applies server backpressure to streams and maps errors to
 * statuses.
 */

import { randomUUID } from "node:crypto";
import {
  create,
  type DescMessage,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { Validator } from "@bufbuild/protovalidate";
import {
  type Metadata,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { type Context, context, type Span } from "@opentelemetry/api";
import { createAuthInterceptor } from "../auth/auth-interceptor.js";
import { onAbort } from "../server/abort-listeners.js";
import { assembleChain, type ChainSlots, runChain } from "../server/chain.js";
import { createDeadlineInterceptor, raceAbort } from "../server/deadline-interceptor.js";
import { createErrorMapInterceptor, type ErrorMapTable, mapError } from "../server/error-map.js";
import type {
  MessageListener,
  MethodInfo,
  MethodKind,
  ServerCall,
  ServerInterceptor,
} from "../server/interceptor.js";
import { createRecoverInterceptor } from "../server/recover-interceptor.js";
import { isDependencyUnavailable } from "../server/transient-errors.js";
import {
  createDefaultValidator,
  createValidationInterceptor,
  validateMessage,
} from "../server/validation-interceptor.js";
import { endServerSpan, startServerSpan } from "../telemetry/server-span.js";
import {
  attachTraceContext,
  callInCallTrace,
  captureTraceContext,
} from "../telemetry/trace-scope.js";
import { isRpcError, RpcError } from "./rpc-error.js";

/** The authenticated caller, as the `authenticate` hook resolves it from call metadata. */
export interface Principal {
  /** User id (the token's `sub`/`uid`). */
  readonly uid: string;
  readonly email?: string;
  /** Roles from the token's `roles` claim; [] when it has none. */
  readonly roles: readonly string[];
  /** Every claim of the token, for `claim` parameter sources. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Who may call a method (from `(svcgen.v1.method).auth`, else the service's rule). */
export type AuthRule =
  | { readonly kind: "public" }
  | { readonly kind: "authenticated" }
  | { readonly kind: "roles"; readonly roles: readonly string[] };

/** The per-method policy generated from svcgen's proto options. */
export interface MethodPolicy {
  readonly auth: AuthRule;
  /** Server-side timeout in ms; 0 for none (the client's deadline still applies). */
  readonly timeoutMs: number;
  /** Safe to retry: the retry step retries the whole call on a transient failure. */
  readonly idempotent: boolean;
  /**
   * The bulkhead group (a proto option on the method or its service); default: the service's
   * full name, so each service has its own concurrency limit.
   */
  readonly group?: string;
}

/** What every handler receives besides the request. */
export interface CallContext {
  /** The method path, `/package.Service/Method`. */
  readonly method: string;
  /** Aborted when the client cancels, the deadline passes, or the server times the call out. */
  readonly signal: AbortSignal;
  /**
   * Aborted when the server starts draining for a graceful shutdown (it stops accepting
   * calls), while `signal` stays live until the grace period ends. A call that could run
   * indefinitely (a subscription, a watch) ends itself on it, so the process exits without
   * waiting out the grace period; a call that finishes on its own can ignore it. One signal
   * shared by every call of the server: watch it only in such long-lived calls.
   */
  readonly draining: AbortSignal;
  /** Epoch milliseconds when the call must be done; Infinity without a deadline. */
  readonly deadline: number;
  /** The request metadata (headers). */
  readonly metadata: Metadata;
  /** The caller's address. */
  readonly peer: string;
  /** The authenticated caller; undefined for an anonymous call to a public method. */
  readonly principal: Principal | undefined;
}

/** A unary handler: one request, one response. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>>;

/** A server-streaming handler: one request, a stream of responses written with backpressure. */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** A client-streaming handler: a stream of (validated) requests, one response. */
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>>;

/** A bidirectional-streaming handler. */
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** The handler type for one method of a generated service. */
export type HandlerFor<M> = M extends {
  readonly methodKind: infer K;
  readonly input: infer I extends DescMessage;
  readonly output: infer O extends DescMessage;
}
  ? K extends "unary"
    ? UnaryHandler<I, O>
    : K extends "server_streaming"
      ? ServerStreamingHandler<I, O>
      : K extends "client_streaming"
        ? ClientStreamingHandler<I, O>
        : BidiStreamingHandler<I, O>
  : never;

/** The methods of a generated service (`GenService<...>`). */
export type MethodsOf<S> = S extends GenService<infer R extends GenServiceMethods> ? R : never;

/** Handlers for every method of a generated service, keyed by local name (`getUser`). */
export type ServiceHandlers<S> = {
  readonly [K in keyof MethodsOf<S>]: HandlerFor<MethodsOf<S>[K]>;
};

/**
 * A method's fallback for graceful degradation: called with the request, the call's context
 * and the error when the primary dependency is unavailable (its breaker is open, no
 * connection could be had, or the call failed UNAVAILABLE); its answer is the response (serve
 * from a cache or a replica). It may throw to fail the call after all.
 */
export type FallbackHandler = (
  request: unknown,
  ctx: CallContext,
  error: unknown,
) => Promise<MessageInitShape<DescMessage>>;

/** Options of {@link createServerHandlers}. */
export interface ServerHandlerOptions {
  /**
   * Resolves the caller from request metadata (e.g. verifies a Firebase ID token); return
   * undefined for an anonymous call, throw an RpcError(UNAUTHENTICATED) for a bad token.
   * Default: every call is anonymous, so only public methods succeed.
   */
  readonly authenticate?: (metadata: Metadata, method: string) => Promise<Principal | undefined>;
  /** The protovalidate validator, or false to skip validation. Default: a shared one. */
  readonly validator?: Validator | false;
  /**
   * Called with every error that is not an RpcError (it becomes INTERNAL with a correlation
   * id, the third argument, which the client also receives); for logging.
   */
  readonly onUnexpectedError?: (error: unknown, method: string, correlationId: string) => void;
  /**
   * Interceptors by chain position (see `chain.ts` for the order). A position given here
   * replaces the default (`false` removes it); defaults: recover, auth (from `authenticate`),
   * deadline (method timeout, 30 s cap), validation (from `validator`), error map (from
   * `errorMap`). Telemetry, logging, metrics, shedding, bulkhead and retry are empty unless given.
   */
  readonly interceptors?: ChainSlots;
  /** The per-constraint error map applied by the default error-map step. */
  readonly errorMap?: ErrorMapTable;
  /** Fallbacks by method local name (`getProfile`); see {@link FallbackHandler}. */
  readonly fallbacks?: Readonly<Record<string, FallbackHandler>>;
  /**
   * Aborting it aborts every call in flight (their queries are cancelled on the server): the
   * last step of a graceful shutdown, when the grace period is over.
   */
  readonly shutdownSignal?: AbortSignal;
  /**
   * Aborting it tells every call that the server is draining (`ctx.draining`): the first
   * step of a graceful shutdown. Default: a signal that never aborts.
   */
  readonly drainSignal?: AbortSignal;
}

/** `ctx.draining` of a server given no drain signal. */
const neverDraining = new AbortController().signal;

let sharedValidator: Validator | undefined;

/** The grpc-js call surface the adapter reads, common to the four kinds. */
interface GrpcCall {
  readonly metadata: Metadata;
  getDeadline(): number | Date;
  getPeer(): string;
  on(event: "cancelled", listener: () => void): unknown;
}

const shuttingDown = () => new RpcError(status.UNAVAILABLE, "The server is shutting down");
const deadlineExceeded = () => new RpcError(status.DEADLINE_EXCEEDED, "Deadline exceeded");
/** A cancel this close to the deadline (clock granularity) is the deadline's. */
const deadlineSlackMs = 5;

/** One live call: the ServerCall interceptors see, plus what the adapter needs to finish it. */
class LiveCall implements ServerCall {
  readonly ctx: CallContext;
  readonly startedAt = Date.now();
  /** The response of a unary call, set by the handler or a fallback. */
  response: MessageInitShape<DescMessage> | undefined;
  private readonly controller = new AbortController();
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private deadlineAt: number;
  private principal: Principal | undefined;
  private id: string | undefined;
  private listeners: MessageListener[] | undefined;
  private readonly stopShutdownWatch: (() => void) | undefined;
  /** The server span this adapter made for the call, if any (server-span.ts). */
  private span: Span | undefined;
  private traceContext: Context | undefined;

  constructor(
    readonly info: MethodInfo,
    private readonly grpcCall: GrpcCall,
    readonly request: unknown,
    shutdownSignal: AbortSignal | undefined,
    draining: AbortSignal,
  ) {
    const raw = grpcCall.getDeadline();
    this.deadlineAt = raw instanceof Date ? raw.getTime() : raw;
    // No timer here for the client's own deadline: grpc-js already runs one per call (it ends
    // the call DEADLINE_EXCEEDED and then reports it as `cancelled`, below). A second timer per
    // call was measurable; one is armed only when the server's limit is tighter (method
    // timeout, cap: `tightenDeadline`).
    // The call's server span (made here when tracing is on, see server-span.ts), or the one
    // active while grpc-js invokes the handler; its context goes with the call's signal to
    // every query and client call it makes (see trace-scope.ts).
    const started = startServerSpan(info.path, info.service, info.method, grpcCall.metadata);
    if (started === undefined) captureTraceContext(this.controller.signal);
    else {
      this.span = started.span;
      this.traceContext = started.context;
      attachTraceContext(this.controller.signal, started.context);
    }
    grpcCall.on("cancelled", () => {
      // grpc-js 1.10+ also emits `cancelled` after a call completes normally.
      if (this.finished) return;
      // At the client's deadline it is grpc-js's own deadline timer that ended the call.
      this.controller.abort(
        Date.now() >= this.deadlineAt - deadlineSlackMs
          ? deadlineExceeded()
          : new RpcError(status.CANCELLED, "Cancelled by the client"),
      );
    });
    if (shutdownSignal !== undefined) {
      const onShutdown = (): void => this.controller.abort(shuttingDown());
      // Every call in flight watches this one signal: a Set, not an EventTarget list walked
      // on each removal (see abort-listeners.ts).
      if (shutdownSignal.aborted) onShutdown();
      else this.stopShutdownWatch = onAbort(shutdownSignal, onShutdown);
    }
    const self = this;
    this.ctx = {
      method: info.path,
      signal: this.controller.signal,
      // The server's one signal, shared: nothing is created or watched per call.
      draining,
      get deadline() {
        return self.deadlineAt;
      },
      metadata: grpcCall.metadata,
      // Read on demand: it is a getsockname system call, and most handlers never ask.
      get peer() {
        return grpcCall.getPeer();
      },
      get principal() {
        return self.principal;
      },
    };
  }

  get requestId(): string {
    if (this.id === undefined) {
      const given = this.grpcCall.metadata.get("x-request-id")[0];
      this.id = typeof given === "string" && given !== "" ? given : randomUUID();
    }
    return this.id;
  }

  setPrincipal(principal: Principal | undefined): void {
    this.principal = principal;
  }

  tightenDeadline(deadline: number): void {
    if (deadline >= this.deadlineAt) return;
    this.deadlineAt = deadline;
    this.arm();
  }

  onMessage(listener: MessageListener): void {
    if (this.listeners === undefined) this.listeners = [];
    this.listeners.push(listener);
  }

  /** Tells message listeners about a message. */
  message(kind: "received" | "sent"): void {
    if (this.listeners === undefined) return;
    for (const l of this.listeners) l[kind]?.();
  }

  /** Marks the call finished: later `cancelled` events are not cancellations. */
  done(error?: { readonly code: number; readonly details: string; readonly name?: string }): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stopShutdownWatch?.();
    if (this.span !== undefined) endServerSpan(this.span, error);
  }

  /** Runs the call through `chain`, in the call's server span when this adapter made one. */
  run(chain: readonly ServerInterceptor[], terminal: () => Promise<void>): Promise<void> {
    const ctx = this.traceContext;
    if (ctx === undefined) return runChain(chain, this, terminal);
    return context.with(ctx, () => runChain(chain, this, terminal));
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.controller.abort(deadlineExceeded()),
      Math.max(0, this.deadlineAt - Date.now()),
    );
  }
}

/** The grpc-js error object of `error`; unexpected errors become INTERNAL without their text. */
function toServiceError(error: unknown, method: string, options: ServerHandlerOptions): CallError {
  const rpc = isRpcError(error)
    ? error
    : (mapError(error, options.errorMap) ??
      (() => {
        // Only reached when the recover step was removed from the chain.
        const correlationId = randomUUID();
        options.onUnexpectedError?.(error, method, correlationId);
        return new RpcError(status.INTERNAL, `Internal error (correlation id ${correlationId})`);
      })());
  return Object.assign(new Error(rpc.message), {
    code: rpc.code,
    details: rpc.message,
    metadata: rpc.toMetadata(),
  });
}

/** Event-loop turns to wait after a request stream ends for a cancel to surface. */
const endSettleTurns = 8;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A validated async iterable over the requests of a client stream. It ends only when the
 * client half-closed the stream: once the call is cancelled, times out or the server shuts
 * down, the next read (or the one waiting) throws the signal's reason instead, so a handler
 * that writes as it reads (a transaction, an upload) never takes a cut-off stream for a
 * complete one, and never waits forever for a message that will not come.
 */
async function* readRequests<I extends DescMessage>(
  stream: AsyncIterable<unknown>,
  schema: I,
  validator: Validator | false,
  live: LiveCall,
): AsyncGenerator<MessageShape<I>> {
  const signal = live.ctx.signal;
  const it = stream[Symbol.asyncIterator]();
  for (;;) {
    const next = await raceAbort(it.next(), signal);
    if (next.done === true) {
      // grpc-js ends the request stream of a cancelled call (RST_STREAM, or its own deadline)
      // exactly as a client's half-close, and reports the cancel a couple of event-loop turns
      // later (2 measured with grpc-js 1.14 on Node 20). Let those turns pass, so a handler
      // never commits a cut-off stream: a few microseconds, once per call.
      for (let turn = 0; turn < endSettleTurns && !signal.aborted; turn++) await nextTurn();
    }
    if (signal.aborted) throw signal.reason;
    if (next.done === true) return;
    const message = next.value as MessageShape<I>;
    live.message("received");
    if (validator !== false) validateMessage(validator, schema, message);
    yield message;
  }
}

/** Writes `messages` to a server stream, waiting for `drain` whenever grpc-js's buffer is full. */
async function writeAll(
  call: ServerWritableStream<Message, Message> | ServerDuplexStream<Message, Message>,
  schema: DescMessage,
  messages: AsyncIterable<MessageInitShape<DescMessage>>,
  live: LiveCall,
): Promise<void> {
  const signal = live.ctx.signal;
  for await (const init of messages) {
    if (signal.aborted) break;
    live.message("sent");
    if (!call.write(create(schema, init))) {
      // Backpressure: pull nothing more from the source until the client reads.
      await new Promise<void>((resolve) => {
        const onDone = (): void => {
          call.off("drain", onDone);
          signal.removeEventListener("abort", onDone);
          resolve();
        };
        call.on("drain", onDone);
        signal.addEventListener("abort", onDone);
      });
    }
  }
  if (signal.aborted) throw signal.reason;
}

/** The error a failed call ends with, as grpc-js sends it. */
type CallError = Error & { code: status; details: string; metadata: Metadata };

/**
 * The settle handlers of a call with one response (unary, client streaming): send the response
 * built from the handler's init object, or the error; the call's state and server span end with
 * the status the client receives.
 */
function respond(
  live: LiveCall,
  output: DescMessage,
  callback: sendUnaryData<Message>,
  fail: (error: unknown) => CallError,
): [() => void, (error: unknown) => void] {
  const failed = (error: CallError): void => {
    live.done(error);
    callInCallTrace(live.ctx.signal, callback, error);
  };
  return [
    () => {
      let res: Message;
      try {
        res = create(output, live.response);
      } catch (e) {
        failed(fail(e));
        return;
      }
      live.done();
      live.message("sent");
      callInCallTrace(live.ctx.signal, callback, null, res);
    },
    (e) => failed(fail(e)),
  ];
}

/** The settle handlers of a call with a response stream (server, bidi streaming). */
function endStream(
  live: LiveCall,
  call: { end(): void; emit(event: "error", error: CallError): boolean },
  fail: (error: unknown) => CallError,
): [() => void, (error: unknown) => void] {
  return [
    () => {
      live.done();
      callInCallTrace(live.ctx.signal, () => call.end());
    },
    (e) => {
      const error = fail(e);
      live.done(error);
      callInCallTrace(live.ctx.signal, () => call.emit("error", error));
    },
  ];
}

/** The fallback step of one method: serves `fallback` when the primary is unavailable. */
function fallbackInterceptor(fallback: FallbackHandler): ServerInterceptor {
  return async (call, next) => {
    try {
      await next();
    } catch (error) {
      if (!isDependencyUnavailable(error) || call.ctx.signal.aborted) throw error;
      (call as LiveCall).response = await fallback(call.request, call.ctx, error);
    }
  };
}

/**
 * The grpc-js implementation of `service` (for `server.addService(definition, ...)`) from
 * typed `handlers`, every call running through the interceptor chain (`chain.ts`).
 * `policies` holds each method's auth rule, timeout, idempotency and group by local name; a
 * method without one is `authenticated`, not idempotent, with no timeout.
 */
export function createServerHandlers<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  policies: Readonly<Record<string, MethodPolicy>>,
  options: ServerHandlerOptions = {},
): UntypedServiceImplementation {
  if (options.validator === undefined && sharedValidator === undefined) {
    sharedValidator = createDefaultValidator();
  }
  const validator = options.validator ?? sharedValidator ?? false;
  const draining = options.drainSignal ?? neverDraining;
  const given = options.interceptors ?? {};
  const slots: ChainSlots = {
    recover: createRecoverInterceptor((error, method, id) =>
      options.onUnexpectedError?.(error, method, id),
    ),
    auth: createAuthInterceptor({ authenticate: options.authenticate }),
    deadline: createDeadlineInterceptor(),
    validation: validator === false ? false : createValidationInterceptor(validator),
    errorMap: createErrorMapInterceptor(options.errorMap),
    ...given,
  };
  const impl: UntypedServiceImplementation = {};
  const table = handlers as unknown as Readonly<Record<string, (...args: never[]) => unknown>>;
  for (const method of service.methods) {
    const unbound = table[method.localName];
    if (unbound === undefined) continue;
    // Handlers are usually class methods: keep `this` pointing at the instance.
    const handler = unbound.bind(handlers);
    const policy = policies[method.localName] ?? {
      auth: { kind: "authenticated" },
      timeoutMs: 0,
      idempotent: false,
    };
    const path = `/${method.parent.typeName}/${method.name}`;
    const info: MethodInfo = {
      service: method.parent.typeName,
      method: method.name,
      path,
      kind: method.methodKind as MethodKind,
      policy,
      descriptor: method,
    };
    const fallback = options.fallbacks?.[method.localName];
    const chain = assembleChain(
      fallback === undefined ? slots : { ...slots, fallback: fallbackInterceptor(fallback) },
    );
    const fail = (e: unknown) => toServiceError(e, path, options);
    switch (method.methodKind) {
      case "unary": {
        const fn = handler as unknown as UnaryHandler<DescMessage, DescMessage>;
        impl[method.localName] = (
          call: ServerUnaryCall<Message, Message>,
          callback: sendUnaryData<Message>,
        ) => {
          const live = new LiveCall(info, call, call.request, options.shutdownSignal, draining);
          live.message("received");
          live
            .run(chain, () =>
              Promise.resolve(fn(call.request, live.ctx)).then((response) => {
                live.response = response;
              }),
            )
            .then(...respond(live, method.output, callback, fail));
        };
        break;
      }
      case "server_streaming": {
        const fn = handler as unknown as ServerStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (call: ServerWritableStream<Message, Message>) => {
          const live = new LiveCall(info, call, call.request, options.shutdownSignal, draining);
          live.message("received");
          live
            .run(chain, () => writeAll(call, method.output, fn(call.request, live.ctx), live))
            .then(...endStream(live, call, fail));
        };
        break;
      }
      case "client_streaming": {
        const fn = handler as unknown as ClientStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (
          call: ServerReadableStream<Message, Message>,
          callback: sendUnaryData<Message>,
        ) => {
          const live = new LiveCall(info, call, undefined, options.shutdownSignal, draining);
          live
            .run(chain, async () => {
              // Reading must not destroy the call: for a duplex that would also kill the response side.
              const requests = readRequests(
                call.iterator({ destroyOnReturn: false }),
                method.input,
                validator,
                live,
              );
              live.response = await fn(requests, live.ctx);
            })
            .then(...respond(live, method.output, callback, fail));
        };
        break;
      }
      case "bidi_streaming": {
        const fn = handler as unknown as BidiStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (call: ServerDuplexStream<Message, Message>) => {
          const live = new LiveCall(info, call, undefined, options.shutdownSignal, draining);
          live
            .run(chain, async () => {
              // Reading must not destroy the call: for a duplex that would also kill the response side.
              const requests = readRequests(
                call.iterator({ destroyOnReturn: false }),
                method.input,
                validator,
                live,
              );
              await writeAll(call, method.output, fn(requests, live.ctx), live);
            })
            .then(...endStream(live, call, fail));
        };
        break;
      }
    }
  }
  return impl;
}
