/**
 * Errors a handler throws to end a call with a gRPC status. The server adapter turns an
 * `RpcError` into that status (with `google.rpc.Status` details in the
 * `grpc-status-details-bin` trailer) and anything else into INTERNAL without leaking its text.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Metadata, status } from "@grpc/grpc-js";
import {
  type BadRequest,
  type BadRequest_FieldViolation,
  BadRequest_FieldViolationSchema,
  BadRequestSchema,
  ErrorInfoSchema,
  StatusSchema,
} from "./gen/google/rpc/status_pb.js";

/** The trailer key gRPC clients read rich error details from. */
export const statusDetailsKey = "grpc-status-details-bin";

/** A violated request field, as listed in a `google.rpc.BadRequest`. */
export interface FieldViolation {
  /** Field path, e.g. `email` or `items[2].name`. */
  readonly field: string;
  /** Why the value is invalid. */
  readonly description: string;
  /** Machine-readable reason (a protovalidate rule id); empty when there is none. */
  readonly reason?: string;
}

/** A `google.rpc.ErrorInfo`: a stable, machine-readable reason for the error. */
export interface ErrorDetailInfo {
  /** UPPER_SNAKE_CASE reason, stable across releases (`USERS_EMAIL_KEY`). */
  readonly reason: string;
  /** The logical grouping of reasons, usually the service's name (`user.example.v1`). */
  readonly domain: string;
  /** Extra safe key/value detail (a correlation id, say). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Options of an {@link RpcError}. */
export interface RpcErrorOptions {
  readonly violations?: readonly FieldViolation[];
  /** Sent as a `google.rpc.ErrorInfo` detail. */
  readonly errorInfo?: ErrorDetailInfo;
  readonly cause?: unknown;
}

/** An error that ends a call with `code` and a message safe to show the client. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  /** The gRPC status code. */
  readonly code: status;
  /** Field violations sent as a `google.rpc.BadRequest` detail; empty for none. */
  readonly violations: readonly FieldViolation[];
  /** The `google.rpc.ErrorInfo` detail; undefined for none. */
  readonly errorInfo: ErrorDetailInfo | undefined;

  constructor(code: status, message: string, options?: RpcErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.violations = options?.violations ?? [];
    this.errorInfo = options?.errorInfo;
  }

  /** The trailers carrying this error's `google.rpc.Status` (always set, details optional). */
  toMetadata(): Metadata {
    const md = new Metadata();
    const details =
      this.violations.length === 0
        ? []
        : [
            anyPack(
              BadRequestSchema,
              create(BadRequestSchema, {
                fieldViolations: this.violations.map((v) =>
                  create(BadRequest_FieldViolationSchema, {
                    field: v.field,
                    description: v.description,
                    reason: v.reason ?? "",
                  }),
                ),
              }),
            ),
          ];
    if (this.errorInfo !== undefined) {
      details.push(
        anyPack(
          ErrorInfoSchema,
          create(ErrorInfoSchema, {
            reason: this.errorInfo.reason,
            domain: this.errorInfo.domain,
            metadata: { ...this.errorInfo.metadata },
          }),
        ),
      );
    }
    const st = create(StatusSchema, { code: this.code, message: this.message, details });
    md.set(statusDetailsKey, Buffer.from(toBinary(StatusSchema, st)));
    return md;
  }
}

/** True for an {@link RpcError}, also one from another copy of this package. */
export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError || (e instanceof Error && e.name === "RpcError" && "code" in e);
}

/** NOT_FOUND: what a bound `:one` RPC answers when the query returns no row. */
export function notFound(message: string): RpcError {
  return new RpcError(status.NOT_FOUND, message);
}

/** INVALID_ARGUMENT for one field, listed as a field violation. */
export function invalidField(field: string, description: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, `Invalid ${field}: ${description}`, {
    violations: [{ field, description }],
  });
}

/** UNIMPLEMENTED: what handler skeletons throw until the method is written. */
export function unimplemented(method: string): RpcError {
  return new RpcError(
    status.UNIMPLEMENTED,
    `${method} is not implemented yet: write it in the service's handlers.ts`,
  );
}

/** The google.rpc schemas, for clients that decode `grpc-status-details-bin`. */
export { BadRequestSchema, StatusSchema };
export type { BadRequest, BadRequest_FieldViolation };
