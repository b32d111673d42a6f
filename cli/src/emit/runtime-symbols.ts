/**
 * The one table of `@svcgen/runtime` symbols that generated code may import, for every subpath
 * of the package (`@svcgen/runtime` for query modules, `@svcgen/runtime/grpc` for services and
 * handlers, `@svcgen/runtime/server` for the error map and the server entries,
 * `@svcgen/runtime/events` for the outbox writes and consumer types of declared events,
 * `@svcgen/runtime/entry` for what an entry may load before the telemetry preload,
 * `@svcgen/runtime/testing` for the test kit). Emitters import runtime symbols only through this table (`FileBuilder.runtime`);
 * the golden tests type-check every generated file against the runtime and check that each
 * value symbol is exported from its subpath, so a change on either side that breaks generated
 * code fails a test.
 */

import { runtimeModule } from "../model.js";

/** Module specifier generated code imports the runtime by, unless the emitter is told otherwise. */
export { runtimeModule };

/** Each symbol, whether it is a type (imported with `import type`), and its package subpath. */
export const runtimeSymbols = {
  Queryable: { typeOnly: true, subpath: "" },
  QueryOptions: { typeOnly: true, subpath: "" },
  ExecResult: { typeOnly: true, subpath: "" },
  JsonValue: { typeOnly: true, subpath: "" },
  Pool: { typeOnly: true, subpath: "" },
  StreamOptions: { typeOnly: true, subpath: "" },
  CopySpec: { typeOnly: true, subpath: "" },
  CopyOptions: { typeOnly: true, subpath: "" },
  BatchOptions: { typeOnly: true, subpath: "" },
  BatchResult: { typeOnly: true, subpath: "" },
  runCopyFrom: { typeOnly: false, subpath: "" },
  runBatchExec: { typeOnly: false, subpath: "" },
  runBatchOne: { typeOnly: false, subpath: "" },
  runBatchMany: { typeOnly: false, subpath: "" },
  defineQuery: { typeOnly: false, subpath: "" },
  runOne: { typeOnly: false, subpath: "" },
  runMany: { typeOnly: false, subpath: "" },
  runExec: { typeOnly: false, subpath: "" },
  runExecRows: { typeOnly: false, subpath: "" },
  runExecResult: { typeOnly: false, subpath: "" },
  runStream: { typeOnly: false, subpath: "" },
  decodeArray: { typeOnly: false, subpath: "" },
  decodeBigInt: { typeOnly: false, subpath: "" },
  decodeBool: { typeOnly: false, subpath: "" },
  decodeBytea: { typeOnly: false, subpath: "" },
  decodeDate: { typeOnly: false, subpath: "" },
  decodeJson: { typeOnly: false, subpath: "" },
  decodeNumber: { typeOnly: false, subpath: "" },
  decodeText: { typeOnly: false, subpath: "" },
  decodeTimestamp: { typeOnly: false, subpath: "" },
  decodeTimestamptz: { typeOnly: false, subpath: "" },
  encodeArray: { typeOnly: false, subpath: "" },
  encodeBytea: { typeOnly: false, subpath: "" },
  encodeDate: { typeOnly: false, subpath: "" },
  encodeJson: { typeOnly: false, subpath: "" },
  encodeJsonArray: { typeOnly: false, subpath: "" },
  encodeTimestamp: { typeOnly: false, subpath: "" },
  encodeTimestamptz: { typeOnly: false, subpath: "" },
  encodeValue: { typeOnly: false, subpath: "" },
  withTransaction: { typeOnly: false, subpath: "" },
  CallContext: { typeOnly: true, subpath: "/grpc" },
  ClientOptions: { typeOnly: true, subpath: "/grpc" },
  ClientTarget: { typeOnly: true, subpath: "/grpc" },
  MethodPolicy: { typeOnly: true, subpath: "/grpc" },
  ServerHandlerOptions: { typeOnly: true, subpath: "/grpc" },
  ServiceClient: { typeOnly: true, subpath: "/grpc" },
  createServerHandlers: { typeOnly: false, subpath: "/grpc" },
  createServiceClient: { typeOnly: false, subpath: "/grpc" },
  createServiceDefinition: { typeOnly: false, subpath: "/grpc" },
  checkLabel: { typeOnly: false, subpath: "/grpc" },
  enumToLabel: { typeOnly: false, subpath: "/grpc" },
  labelToEnum: { typeOnly: false, subpath: "/grpc" },
  notFound: { typeOnly: false, subpath: "/grpc" },
  parseJsonField: { typeOnly: false, subpath: "/grpc" },
  required: { typeOnly: false, subpath: "/grpc" },
  requiredClaim: { typeOnly: false, subpath: "/grpc" },
  toBigInt: { typeOnly: false, subpath: "/grpc" },
  toJsonObject: { typeOnly: false, subpath: "/grpc" },
  toJsonString: { typeOnly: false, subpath: "/grpc" },
  unimplemented: { typeOnly: false, subpath: "/grpc" },
  ErrorMapTable: { typeOnly: true, subpath: "/server" },
  RegisteredService: { typeOnly: true, subpath: "/server" },
  ServerHandle: { typeOnly: true, subpath: "/server" },
  ServiceEvents: { typeOnly: true, subpath: "/server" },
  StartServerOptions: { typeOnly: true, subpath: "/server" },
  defineService: { typeOnly: false, subpath: "/server" },
  runMain: { typeOnly: false, subpath: "/server" },
  startServer: { typeOnly: false, subpath: "/server" },
  isMainModule: { typeOnly: false, subpath: "/entry" },
  EventContext: { typeOnly: true, subpath: "/events" },
  StoredEvent: { typeOnly: true, subpath: "/events" },
  traceHeaders: { typeOnly: false, subpath: "/events" },
  writeEvent: { typeOnly: false, subpath: "/events" },
  TestDatabasesConfig: { typeOnly: true, subpath: "/testing" },
  TestService: { typeOnly: true, subpath: "/testing" },
  TestServiceOptions: { typeOnly: true, subpath: "/testing" },
  defineTestDatabases: { typeOnly: false, subpath: "/testing" },
  runWithTestDatabases: { typeOnly: false, subpath: "/testing" },
  setupTestDatabases: { typeOnly: false, subpath: "/testing" },
  startTestServer: { typeOnly: false, subpath: "/testing" },
} as const satisfies Record<
  string,
  { readonly typeOnly: boolean; readonly subpath: RuntimeSubpath }
>;

/**
 * The runtime's subpaths generated code imports. `/entry` loads only Node built-ins, so an
 * entry may import it statically before the telemetry preload has loaded grpc-js or pg.
 * `/testing` is imported only by the test kit (`gen/testing/`).
 */
export type RuntimeSubpath = "" | "/grpc" | "/server" | "/entry" | "/events" | "/testing";

/**
 * Modules an entry imports for their side effect, first, before anything else loads:
 * `telemetry/register` installs the ESM loader hook and starts tracing (from the environment).
 */
export const runtimeSideEffects = {
  telemetryRegister: "/telemetry/register",
} as const;

/** The name of a runtime symbol generated code may use. */
export type RuntimeSymbol = keyof typeof runtimeSymbols;
