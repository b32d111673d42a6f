/**
 * Adapts typed, promise- and async-iterable-based handlers to grpc-js's callback API: one
 * place that authorises, validates requests with protovalidate, propagates deadline and
 * cancellation as an AbortSignal, applies server backpressure to streams and maps errors to
 * statuses.
 */

import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
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
import { databaseErrorToRpc } from "./db-errors.js";
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
  /** Safe to retry; informational for retry layers. */
  readonly idempotent: boolean;
}

/** What every handler receives besides the request. */
export interface CallContext {
  /** The method path, `/package.Service/Method`. */
  readonly method: string;
  /** Aborted when the client cancels, the deadline passes, or the server times the call out. */
  readonly signal: AbortSignal;
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
  /** Called with every error that is not an RpcError (it becomes INTERNAL); for logging. */
  readonly onUnexpectedError?: (error: unknown, method: string) => void;
}

let sharedValidator: Validator | undefined;

/** A per-call context plus what the adapter needs to finish it. */
interface LiveContext {
  readonly ctx: CallContext;
  readonly policy: MethodPolicy;
  /** Marks the call finished: later `cancelled` events are not cancellations (grpc-js 1.10+). */
  done(): void;
}

function openContext(
  method: DescMethod,
  policy: MethodPolicy,
  call: {
    readonly metadata: Metadata;
    getDeadline(): number | Date;
    getPeer(): string;
    on(event: "cancelled", listener: () => void): unknown;
  },
): LiveContext & { setPrincipal(p: Principal | undefined): void } {
  const controller = new AbortController();
  let finished = false;
  const raw = call.getDeadline();
  const clientDeadline = raw instanceof Date ? raw.getTime() : raw;
  const serverDeadline = policy.timeoutMs > 0 ? Date.now() + policy.timeoutMs : Infinity;
  const deadline = Math.min(clientDeadline, serverDeadline);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) {
    timer = setTimeout(
      () => controller.abort(new RpcError(status.DEADLINE_EXCEEDED, "Deadline exceeded")),
      Math.max(0, deadline - Date.now()),
    );
    timer.unref();
  }
  call.on("cancelled", () => {
    if (!finished) controller.abort(new RpcError(status.CANCELLED, "Cancelled by the client"));
  });
  let principal: Principal | undefined;
  const ctx: CallContext = {
    method: `/${method.parent.typeName}/${method.name}`,
    signal: controller.signal,
    deadline,
    metadata: call.metadata,
    peer: call.getPeer(),
    get principal() {
      return principal;
    },
  };
  return {
    ctx,
    policy,
    done() {
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
    },
    setPrincipal(p) {
      principal = p;
    },
  };
}

/** Enforces the auth rule; resolves the principal first. */
async function authorize(
  live: ReturnType<typeof openContext>,
  options: ServerHandlerOptions,
): Promise<void> {
  const principal =
    options.authenticate === undefined
      ? undefined
      : await options.authenticate(live.ctx.metadata, live.ctx.method);
  live.setPrincipal(principal);
  const rule = live.policy.auth;
  if (rule.kind === "public") return;
  if (principal === undefined) {
    throw new RpcError(status.UNAUTHENTICATED, "This method needs a valid token");
  }
  if (rule.kind === "roles" && !rule.roles.some((r) => principal.roles.includes(r))) {
    throw new RpcError(status.PERMISSION_DENIED, "The caller lacks a role this method needs");
  }
}

/** Validates one request; INVALID_ARGUMENT listing every violated field. */
function validate<I extends DescMessage>(
  validator: Validator | false,
  schema: I,
  message: MessageShape<I>,
): void {
  if (validator === false) return;
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "invalid") {
    const violations = result.violations.map((v) => ({
      field: pathToString(v.field),
      description: v.message,
      reason: v.ruleId,
    }));
    const summary = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
    throw new RpcError(status.INVALID_ARGUMENT, `Invalid request: ${summary}`, { violations });
  }
  // A rule that does not compile is the service's bug, not the caller's.
  throw result.error;
}

/** The grpc-js error object of `error`; unexpected errors become INTERNAL without their text. */
function toServiceError(
  error: unknown,
  method: string,
  options: ServerHandlerOptions,
): Error & { code: status; details: string; metadata: Metadata } {
  const rpc = isRpcError(error)
    ? error
    : (databaseErrorToRpc(error) ??
      (() => {
        options.onUnexpectedError?.(error, method);
        return new RpcError(status.INTERNAL, "Internal error");
      })());
  return Object.assign(new Error(rpc.message), {
    code: rpc.code,
    details: rpc.message,
    metadata: rpc.toMetadata(),
  });
}

/** A validated async iterable over the requests of a client stream. */
async function* readRequests<I extends DescMessage>(
  stream: AsyncIterable<unknown>,
  schema: I,
  validator: Validator | false,
): AsyncGenerator<MessageShape<I>> {
  for await (const raw of stream) {
    const message = raw as MessageShape<I>;
    validate(validator, schema, message);
    yield message;
  }
}

/** Writes `messages` to a server stream, waiting for `drain` whenever grpc-js's buffer is full. */
async function writeAll(
  call: ServerWritableStream<Message, Message> | ServerDuplexStream<Message, Message>,
  schema: DescMessage,
  messages: AsyncIterable<MessageInitShape<DescMessage>>,
  signal: AbortSignal,
): Promise<void> {
  for await (const init of messages) {
    if (signal.aborted) break;
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

/**
 * The grpc-js implementation of `service` (for `server.addService(definition, ...)`) from
 * typed `handlers`. `policies` holds each method's auth rule and timeout by local name; a
 * method without one is `authenticated` with no timeout.
 */
export function createServerHandlers<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  policies: Readonly<Record<string, MethodPolicy>>,
  options: ServerHandlerOptions = {},
): UntypedServiceImplementation {
  if (options.validator === undefined && sharedValidator === undefined) {
    sharedValidator = createValidator({ failFast: false });
  }
  const validator = options.validator ?? sharedValidator ?? false;
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
    switch (method.methodKind) {
      case "unary": {
        const fn = handler as unknown as UnaryHandler<DescMessage, DescMessage>;
        impl[method.localName] = (
          call: ServerUnaryCall<Message, Message>,
          callback: sendUnaryData<Message>,
        ) => {
          const live = openContext(method, policy, call);
          (async () => {
            await authorize(live, options);
            validate(validator, method.input, call.request);
            const out = await raceAbort(fn(call.request, live.ctx), live.ctx.signal);
            return create(method.output, out);
          })().then(
            (res) => {
              live.done();
              callback(null, res);
            },
            (e: unknown) => {
              live.done();
              callback(toServiceError(e, path, options));
            },
          );
        };
        break;
      }
      case "server_streaming": {
        const fn = handler as unknown as ServerStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (call: ServerWritableStream<Message, Message>) => {
          const live = openContext(method, policy, call);
          (async () => {
            await authorize(live, options);
            validate(validator, method.input, call.request);
            await writeAll(call, method.output, fn(call.request, live.ctx), live.ctx.signal);
          })().then(
            () => {
              live.done();
              call.end();
            },
            (e: unknown) => {
              live.done();
              call.emit("error", toServiceError(e, path, options));
            },
          );
        };
        break;
      }
      case "client_streaming": {
        const fn = handler as unknown as ClientStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (
          call: ServerReadableStream<Message, Message>,
          callback: sendUnaryData<Message>,
        ) => {
          const live = openContext(method, policy, call);
          (async () => {
            await authorize(live, options);
            // Reading must not destroy the call: for a duplex that would also kill the response side.
            const requests = readRequests(
              call.iterator({ destroyOnReturn: false }),
              method.input,
              validator,
            );
            const out = await raceAbort(fn(requests, live.ctx), live.ctx.signal);
            return create(method.output, out);
          })().then(
            (res) => {
              live.done();
              callback(null, res);
            },
            (e: unknown) => {
              live.done();
              callback(toServiceError(e, path, options));
            },
          );
        };
        break;
      }
      case "bidi_streaming": {
        const fn = handler as unknown as BidiStreamingHandler<DescMessage, DescMessage>;
        impl[method.localName] = (call: ServerDuplexStream<Message, Message>) => {
          const live = openContext(method, policy, call);
          (async () => {
            await authorize(live, options);
            // Reading must not destroy the call: for a duplex that would also kill the response side.
            const requests = readRequests(
              call.iterator({ destroyOnReturn: false }),
              method.input,
              validator,
            );
            await writeAll(call, method.output, fn(requests, live.ctx), live.ctx.signal);
          })().then(
            () => {
              live.done();
              call.end();
            },
            (e: unknown) => {
              live.done();
              call.emit("error", toServiceError(e, path, options));
            },
          );
        };
        break;
      }
    }
  }
  return impl;
}

/** Settles with `promise`, or rejects with the abort reason as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
