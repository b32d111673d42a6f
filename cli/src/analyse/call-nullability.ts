/** When a function call's result can be NULL. */
import type { FuncCall, WindowDef } from "@pgsql/types";
import { baseName, type Node, nodeAs, stringValues } from "../parse/pg-nodes.js";
import type { Catalog } from "./catalog.js";
import {
  firstArgFunctions,
  infiniteDateFields,
  neverNullFunctions,
  neverNullWindowFunctions,
  nonEmptyAggregates,
  nonNullArgsFunctions,
  nullOnAllNullAggregates,
  totalFunctions,
} from "./function-facts.js";
import type { ExprCtx } from "./nullability-scope.js";

/** Number types: `to_char` of one is never NULL (an empty format gives ''). */
const numberTypes: ReadonlySet<string> = new Set([
  "int2",
  "int4",
  "int8",
  "numeric",
  "float4",
  "float8",
]);

/** String types: `lower`/`upper` of one is the text overload, never NULL. */
const textTypes: ReadonlySet<string> = new Set(["text", "varchar", "bpchar", "name", "unknown"]);

/** Time-of-day types: never infinite, so every `extract` field of one is a value. */
const timeTypes: ReadonlySet<string> = new Set(["time", "timetz"]);

/** `frameOptions` of a window without a frame clause (RANGE UNBOUNDED PRECEDING to CURRENT ROW). */
const DEFAULT_FRAME = 1058;

/** Whether `node` is a plain (not windowed) call of an aggregate. */
export function isAggregateCall(catalog: Catalog, node: Node | undefined): boolean {
  const fc = nodeAs(node, "FuncCall");
  if (fc === undefined || fc.over !== undefined) return false;
  return catalog.func(baseName(fc.funcname))?.aggregate === true || fc.agg_star === true;
}

/**
 * Whether a function call can return NULL: window functions by their frame, aggregates by
 * whether their group can be empty, known functions by the rules of function-facts.ts, and
 * every other function nullable. `argNullable` says whether an argument can be NULL;
 * `argType` gives an argument's type name (`pg_type.typname`, a domain's base type) when
 * known, for the functions whose overloads differ (`to_char`, `lower`, `extract`).
 */
export function callNullable(
  fc: FuncCall,
  ctx: ExprCtx,
  catalog: Catalog,
  argNullable: (arg: Node) => boolean,
  argType: (arg: Node) => string | undefined = () => undefined,
): boolean {
  const qualified = stringValues(fc.funcname);
  const fname = baseName(fc.funcname);
  const args = fc.args ?? [];
  const facts = catalog.func(fname);
  const anyArgNullable = (): boolean => args.some(argNullable);
  const filtered = fc.agg_filter !== undefined;

  if (fc.over !== undefined) {
    if (neverNullWindowFunctions.has(fname)) return false;
    if (fname === "ntile") return anyArgNullable();
    if (fname === "lag" || fname === "lead") {
      // With a non-null default, only a NULL value itself yields NULL.
      return args.length < 3 || anyArgNullable();
    }
    if (fname === "count") return false;
    if (facts?.aggregate === true || fc.agg_star === true) {
      const frame = frameOptions(fc.over, ctx);
      if (filtered || frame !== DEFAULT_FRAME) return true;
      if (nonEmptyAggregates.has(fname)) return false;
      if (nullOnAllNullAggregates.has(fname)) return anyArgNullable();
      return true;
    }
    return true;
  }

  if (fname === "count" && (fc.agg_star === true || facts?.aggregate === true)) return false;
  if (facts?.aggregate === true) {
    if (!ctx.grouped || filtered) return true;
    if (nonEmptyAggregates.has(fname)) return false;
    if (nullOnAllNullAggregates.has(fname)) return anyArgNullable();
    return true;
  }
  if (fname === "coalesce") return args.every(argNullable);
  if (fname === "nullif") return true;
  if (neverNullFunctions.has(fname) && qualified.length <= 2) return false;
  if (firstArgFunctions.has(fname)) return args[0] === undefined || argNullable(args[0]);
  if (fname === "substring" && args.length >= 2) {
    // substring(x from 'pattern') is NULL when nothing matches; the integer forms are total.
    const second = nodeAs(args[1], "A_Const");
    if (second === undefined || second.sval !== undefined) return true;
    return anyArgNullable();
  }
  if (totalFunctions.has(fname) && facts !== undefined && facts.strict) {
    return anyArgNullable();
  }
  if (nonNullArgsFunctions.has(fname) && qualified.length <= 2) return anyArgNullable();
  if (facts === undefined || !facts.strict || qualified.length > 2) return true;
  const first = args[0];
  const second = args[1];
  if (fname === "to_char") {
    return first === undefined || !numberTypes.has(argType(first) ?? "") || anyArgNullable();
  }
  if (fname === "lower" || fname === "upper") {
    return args.length !== 1 || first === undefined || !textTypes.has(argType(first) ?? "")
      ? true
      : anyArgNullable();
  }
  if (fname === "extract" || fname === "date_part") {
    const field = nodeAs(first, "A_Const")?.sval?.sval?.toLowerCase();
    const sourceTime = second !== undefined && timeTypes.has(argType(second) ?? "");
    if (field === undefined || !(infiniteDateFields.has(field) || sourceTime)) return true;
    return anyArgNullable();
  }
  return true;
}

/** A window's frame options, following a reference to a named window. */
function frameOptions(over: WindowDef, ctx: ExprCtx): number {
  const own = over.frameOptions ?? DEFAULT_FRAME;
  const ref = over.name ?? over.refname;
  if (ref !== undefined && own === DEFAULT_FRAME) {
    return ctx.windows.get(ref)?.frameOptions ?? DEFAULT_FRAME;
  }
  return own;
}
