/**
 * Picks the run-time codec of a parameter or column from its Postgres type, at generate time.
 * The choice is written into the generated module as a call tree of runtime symbols
 * (`decodeArray(decodeNumber)`), never looked up by OID at run time.
 */
import type { PgType, TsType } from "../model.js";
import { leafType } from "../ts-type-renderer.js";
import type { RuntimeSymbol } from "./runtime-symbols.js";

/** A codec expression: a runtime symbol, applied to an element codec for arrays. */
export type CodecExpr =
  | { readonly kind: "symbol"; readonly symbol: RuntimeSymbol }
  | { readonly kind: "array"; readonly symbol: RuntimeSymbol; readonly element: CodecExpr };

import type { DateMode, Int8Mode } from "../config/config.js";

export type { DateMode, Int8Mode };

/** The representation modes in effect: from the config, used when a type was overridden. */
export interface CodecModes {
  readonly int8: Int8Mode;
  readonly date: DateMode;
}

const symbol = (s: RuntimeSymbol): CodecExpr => ({ kind: "symbol", symbol: s });

/**
 * The int8/date mode a value uses. The analyser puts the configured mode into the default TS
 * type (`{ kind: "bigint", mode }`, `{ kind: "date", mode }`), so the type decides and the
 * codec always matches the promised type. An overridden type only re-types the value, so the
 * configured mode decides.
 */
function modesFor(tsType: TsType, configured: CodecModes): CodecModes {
  const leaf = leafType(tsType);
  return {
    int8: leaf.kind === "bigint" ? leaf.mode : configured.int8,
    date: leaf.kind === "date" ? leaf.mode : configured.date,
  };
}

/** Follows domains down to the type whose representation they share. */
function baseOf(t: PgType): PgType {
  return t.kind === "domain" ? baseOf(t.base) : t;
}

function decoderFor(t: PgType, modes: CodecModes): CodecExpr {
  const b = baseOf(t);
  if (b.kind === "array") {
    return { kind: "array", symbol: "decodeArray", element: decoderFor(b.element, modes) };
  }
  if (b.kind !== "base") return symbol("decodeText");
  switch (b.typname) {
    case "int2":
    case "int4":
    case "oid":
    case "float4":
    case "float8":
      return symbol("decodeNumber");
    case "int8":
      return symbol(
        modes.int8 === "bigint"
          ? "decodeBigInt"
          : modes.int8 === "number"
            ? "decodeNumber"
            : "decodeText",
      );
    case "bool":
      return symbol("decodeBool");
    case "timestamptz":
      return symbol("decodeTimestamptz");
    case "timestamp":
      return symbol("decodeTimestamp");
    case "date":
      return symbol(modes.date === "Date" ? "decodeDate" : "decodeText");
    case "bytea":
      return symbol("decodeBytea");
    case "json":
    case "jsonb":
      return symbol("decodeJson");
    default:
      // numeric, money, text-like, uuid, network, time, interval and every unknown type: text.
      return symbol("decodeText");
  }
}

function encoderFor(t: PgType): CodecExpr {
  const b = baseOf(t);
  if (b.kind === "array") {
    const element = baseOf(b.element);
    // A JS array inside a json[] value is a JSON document, not a nested dimension.
    if (element.kind === "base" && (element.typname === "json" || element.typname === "jsonb")) {
      return symbol("encodeJsonArray");
    }
    return { kind: "array", symbol: "encodeArray", element: encoderFor(b.element) };
  }
  if (b.kind !== "base") return symbol("encodeValue");
  switch (b.typname) {
    case "timestamptz":
      return symbol("encodeTimestamptz");
    case "timestamp":
      return symbol("encodeTimestamp");
    case "date":
      return symbol("encodeDate");
    case "bytea":
      return symbol("encodeBytea");
    case "json":
    case "jsonb":
      return symbol("encodeJson");
    default:
      // Numbers, bigint, booleans and strings: the default encoder turns them into text.
      return symbol("encodeValue");
  }
}

/** The decoder of a result column. */
export function selectDecoder(pgType: PgType, tsType: TsType, configured: CodecModes): CodecExpr {
  return decoderFor(pgType, modesFor(tsType, configured));
}

/** The encoder of a parameter (encoders accept every representation mode, so none is needed). */
export function selectEncoder(pgType: PgType): CodecExpr {
  return encoderFor(pgType);
}
