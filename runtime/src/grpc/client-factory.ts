/**
 * Typed gRPC clients over grpc-js from protobuf-es service descriptors: promises for unary
 * and client-streaming calls, async iterables for server and bidi streams, a deadline,
 * metadata and an AbortSignal per call.
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

/** Options of {@link createServiceClient}. */
export interface ClientOptions {
  /** Channel credentials. Default: insecure (plain-text h2c, for loopback and tests). */
  readonly credentials?: ChannelCredentials;
  /** grpc-js channel options (`grpc.max_receive_message_length`, ...). */
  readonly channelOptions?: ChannelOptions;
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

/** Writes every request of `requests` to a client stream with backpressure, then ends it. */
async function pump(
  requests: AsyncIterable<Message>,
  stream: {
    write(m: Message): boolean;
    end(): void;
    once(e: "drain", f: () => void): unknown;
    destroy(e?: Error): void;
  },
): Promise<void> {
  try {
    for await (const r of requests) {
      if (!stream.write(r)) await new Promise<void>((resolve) => stream.once("drain", resolve));
    }
    stream.end();
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
 * A typed client of `service` at `address` (`host:port`). Errors reject with grpc-js's
 * `ServiceError` (`code`, `details`, `metadata`); decode rich details from
 * `metadata.get("grpc-status-details-bin")` with `StatusSchema`.
 */
export function createServiceClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): ServiceClient<S> {
  const client = new Client(
    address,
    options.credentials ?? grpcCredentials.createInsecure(),
    options.channelOptions ?? {},
  );
  const methods: Record<string, unknown> = {};
  for (const method of service.methods) methods[method.localName] = clientMethod(client, method);
  methods.close = () => client.close();
  return methods as ServiceClient<S>;
}

function clientMethod(client: Client, method: DescMethod): unknown {
  const def = createMethodDefinition(method);
  switch (method.methodKind) {
    case "unary":
      return (request: Message, options?: CallOptions) =>
        new Promise<Message>((resolve, reject) => {
          let unlink = (): void => {};
          const call = client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            request,
            toMetadata(options?.metadata),
            toGrpcOptions(options),
            (err: ServiceError | null, res?: Message) => {
              unlink();
              if (err !== null) reject(err);
              else if (res !== undefined) resolve(res);
              else reject(new Error("Empty response"));
            },
          );
          unlink = linkSignal(options?.signal, call);
        });
    case "server_streaming":
      return (request: Message, options?: CallOptions) => {
        const call = client.makeServerStreamRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          request,
          toMetadata(options?.metadata),
          toGrpcOptions(options),
        );
        return readAll(call, linkSignal(options?.signal, call));
      };
    case "client_streaming":
      return (requests: AsyncIterable<Message>, options?: CallOptions) =>
        new Promise<Message>((resolve, reject) => {
          let unlink = (): void => {};
          const call = client.makeClientStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            toMetadata(options?.metadata),
            toGrpcOptions(options),
            (err: ServiceError | null, res?: Message) => {
              unlink();
              if (err !== null) reject(err);
              else if (res !== undefined) resolve(res);
              else reject(new Error("Empty response"));
            },
          );
          unlink = linkSignal(options?.signal, call);
          void pump(requests, call);
        });
    case "bidi_streaming":
      return (requests: AsyncIterable<Message>, options?: CallOptions) => {
        const call = client.makeBidiStreamRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          toMetadata(options?.metadata),
          toGrpcOptions(options),
        );
        void pump(requests, call);
        return readAll(call, linkSignal(options?.signal, call));
      };
  }
}
