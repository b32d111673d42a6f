/**
 * `@svcgen/runtime/grpc`: what generated gRPC code imports. Service definitions from
 * protobuf-es descriptors, typed server handlers and clients, status errors with rich
 * details, cursor-backed row streams and value conversions.
 */
export * from "./client-factory.js";
export * from "./convert.js";
export * from "./db-errors.js";
export { type ErrorInfo, ErrorInfoSchema, type Status } from "./gen/google/rpc/status_pb.js";
export * from "./rpc-error.js";
export * from "./server-handlers.js";
export * from "./service-definition.js";
