/**
 * Recovery: the chain's net for errors nothing mapped. The client gets INTERNAL with a
 * correlation id and nothing else (no message, no stack, no SQL); the same id goes to the
 * log, so an operator can find the cause from what a user reports.
 */
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { isRpcError, RpcError } from "../grpc/rpc-error.js";
import type { ServerInterceptor } from "./interceptor.js";

/**
 * Receives each unexpected error with the method path, the correlation id sent to the client
 * and the call's request id (so the error line and the call line can be joined).
 */
export type UnexpectedErrorSink = (
  error: unknown,
  method: string,
  correlationId: string,
  requestId: string,
) => void;

/** The recover interceptor; `report` is called once per unexpected error. */
export function createRecoverInterceptor(report: UnexpectedErrorSink): ServerInterceptor {
  return (call, next) =>
    next().catch((error: unknown) => {
      if (isRpcError(error)) throw error;
      const correlationId = randomUUID();
      report(error, call.info.path, correlationId, call.requestId);
      throw new RpcError(status.INTERNAL, `Internal error (correlation id ${correlationId})`, {
        errorInfo: { reason: "INTERNAL", domain: "svcgen", metadata: { correlationId } },
      });
    });
}
