/**
 * The server interceptor contract: every cross-cutting concern of a generated service (telemetry,
 * recovery, metrics, auth, load shedding, bulkheads, deadlines, validation, the error map) is one
 * small interceptor, and the chain that assembles them in a documented order lives in one place
 * (`chain.ts`). An interceptor wraps the rest of the call: it may act before, after, or instead of
 * `next()`, and sees the call's outcome as a settled promise.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { status } from "@grpc/grpc-js";
import type { CallContext, MethodPolicy, Principal } from "../grpc/server-handlers.js";

/** The four gRPC method kinds, named as protobuf-es names them. */
export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** What is known about a method before any call arrives. */
export interface MethodInfo {
  /** Fully qualified service name, `example.user.v1.UserService`. */
  readonly service: string;
  /** Method name as in the proto, `GetProfile`. */
  readonly method: string;
  /** `/example.user.v1.UserService/GetProfile`. */
  readonly path: string;
  readonly kind: MethodKind;
  readonly policy: MethodPolicy;
  /** The protobuf-es descriptor of the method (input and output schemas, options). */
  readonly descriptor: DescMethod;
}

/** Listeners for the messages of one call (for message counters). */
export interface MessageListener {
  received?(): void;
  sent?(): void;
}

/** One call as interceptors see it. */
export interface ServerCall {
  readonly info: MethodInfo;
  /** The context the handler will receive; its signal aborts on deadline, cancel or shutdown. */
  readonly ctx: CallContext;
  /** Epoch milliseconds when the call started. */
  readonly startedAt: number;
  /** A request id: the caller's `x-request-id` when it sent one, else generated. */
  readonly requestId: string;
  /** The request message of a unary or server-streaming call; undefined for client streams. */
  readonly request: unknown;
  /** Sets the authenticated caller (the auth interceptor does this). */
  setPrincipal(principal: Principal | undefined): void;
  /** Narrows the call's deadline (never extends it); aborts the signal when it passes. */
  tightenDeadline(deadline: number): void;
  /** Registers a listener for each message received from or sent to the client. */
  onMessage(listener: MessageListener): void;
}

/**
 * One concern of the chain. Resolves when the call succeeded; rejects with the error that ends
 * it (an `RpcError` once the error map has run, anything else before).
 */
export type ServerInterceptor = (call: ServerCall, next: () => Promise<void>) => Promise<void>;

/** The gRPC status code of a settled call's error: its own for an RpcError, else INTERNAL. */
export type StatusOf = (error: unknown) => status;
