/**
 * The one table of `@svcgen/runtime` symbols that generated query modules may import. The
 * emitter imports runtime symbols only through this table; the golden tests type-check every
 * generated file against the runtime and check that each value symbol is exported, so a
 * change on either side that breaks generated code fails a test.
 */

import { runtimeModule } from "../model.js";

/** Module specifier generated code imports the runtime by, unless the emitter is told otherwise. */
export { runtimeModule };

/** Each symbol and whether it is a type (imported with `import type`). */
export const runtimeSymbols = {
  Queryable: { typeOnly: true },
  QueryOptions: { typeOnly: true },
  ExecResult: { typeOnly: true },
  JsonValue: { typeOnly: true },
  Pool: { typeOnly: true },
  StreamOptions: { typeOnly: true },
  defineQuery: { typeOnly: false },
  runOne: { typeOnly: false },
  runMany: { typeOnly: false },
  runExec: { typeOnly: false },
  runExecRows: { typeOnly: false },
  runExecResult: { typeOnly: false },
  runStream: { typeOnly: false },
  decodeArray: { typeOnly: false },
  decodeBigInt: { typeOnly: false },
  decodeBool: { typeOnly: false },
  decodeBytea: { typeOnly: false },
  decodeDate: { typeOnly: false },
  decodeJson: { typeOnly: false },
  decodeNumber: { typeOnly: false },
  decodeText: { typeOnly: false },
  decodeTimestamp: { typeOnly: false },
  decodeTimestamptz: { typeOnly: false },
  encodeArray: { typeOnly: false },
  encodeBytea: { typeOnly: false },
  encodeDate: { typeOnly: false },
  encodeJson: { typeOnly: false },
  encodeJsonArray: { typeOnly: false },
  encodeTimestamp: { typeOnly: false },
  encodeTimestamptz: { typeOnly: false },
  encodeValue: { typeOnly: false },
} as const satisfies Record<string, { readonly typeOnly: boolean }>;

/** The name of a runtime symbol generated code may use. */
export type RuntimeSymbol = keyof typeof runtimeSymbols;
