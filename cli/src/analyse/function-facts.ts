/**
 * What the nullability analysis knows about PostgreSQL's built-in functions, as data: one
 * entry per function name, the strictness PostgreSQL declares for it (`pg_proc.proisstrict`,
 * over every overload the entry covers) and the rule its result follows. A test checks every
 * entry against `pg_proc` on a real server, so a claim here cannot drift from PostgreSQL.
 *
 * A function that is not listed is nullable: many strict functions return NULL for non-null
 * input (`regexp_match`, `array_position`, `array_length` of an empty array, `->>`), so
 * "strict" alone never proves a value. Some overloads of a name return NULL where others do
 * not (`to_char` of an infinite timestamp, `lower` of an empty range, `extract(dow ...)` of
 * an infinite date): those names get a rule that looks at the argument, and
 * function-witness.test.ts runs every claim, and every such exception, on a real server.
 */

/** How a function's result can be NULL. */
export type NullRule =
  /** Non-null for non-null arguments; used only while the catalog also says strict. */
  | "total"
  /** Never NULL, whatever the arguments. */
  | "never-null"
  /** Non-null when the first argument is non-null, whatever the rest. */
  | "first-arg"
  /** An aggregate that is NULL only over no rows or only NULL inputs. */
  | "null-on-all-null"
  /** An aggregate that is non-null over any non-empty input, NULL inputs included. */
  | "non-empty"
  /** A set-returning function whose rows are never NULL for non-null arguments. */
  | "set-non-null"
  /**
   * Non-null when every argument is non-null, for a function not declared STRICT (some
   * overload handles NULL itself, e.g. `array_to_string`'s NULL replacement): proven by
   * running it, not by the catalog.
   */
  | "non-null-args"
  /**
   * `extract`/`date_part`: non-null for non-null arguments when the field is a constant
   * that is infinite on an infinite date or timestamp (`year`, `epoch`, ...); any other field
   * (`dow`, `day`, `month`, ...) is NULL there.
   */
  | "date-field"
  /**
   * `to_char`: non-null for non-null arguments when the value is a number; a date/time value
   * gives NULL for an empty format or an infinite value.
   */
  | "number-format"
  /**
   * `lower`/`upper`: non-null for a non-null text argument; the range overloads return NULL
   * for an empty range or an infinite bound.
   */
  | "text-arg";

/** One built-in function the analysis relies on. */
export interface FunctionFact {
  /** The function's name in `pg_catalog`, lower case. */
  readonly name: string;
  /**
   * The overloads the claims cover: `"any"` for every overload of the name (how the catalog
   * is queried), or argument type lists as `pg_catalog.oidvectortypes` prints them.
   */
  readonly args: "any" | readonly (readonly string[])[];
  /** Whether every covered overload is declared STRICT (`proisstrict`). */
  readonly strict: boolean;
  /** The rule its result follows. */
  readonly nulls: NullRule;
  /** `pg_proc.prokind` beyond a plain function: aggregates and window functions. */
  readonly kind?: "aggregate" | "window";
  /** The first server version (`server_version_num`) that has it; absent: every supported one. */
  readonly since?: number;
}

/** Every built-in function the nullability analysis knows, grouped by rule. */
export const functionFacts: readonly FunctionFact[] = [
  // Strict scalar functions that return a value for any non-null arguments.
  { name: "initcap", args: "any", strict: true, nulls: "total" },
  { name: "length", args: "any", strict: true, nulls: "total" },
  { name: "char_length", args: "any", strict: true, nulls: "total" },
  { name: "character_length", args: "any", strict: true, nulls: "total" },
  { name: "octet_length", args: "any", strict: true, nulls: "total" },
  { name: "bit_length", args: "any", strict: true, nulls: "total" },
  { name: "abs", args: "any", strict: true, nulls: "total" },
  { name: "round", args: "any", strict: true, nulls: "total" },
  { name: "trunc", args: "any", strict: true, nulls: "total" },
  { name: "ceil", args: "any", strict: true, nulls: "total" },
  { name: "ceiling", args: "any", strict: true, nulls: "total" },
  { name: "floor", args: "any", strict: true, nulls: "total" },
  { name: "sign", args: "any", strict: true, nulls: "total" },
  { name: "exp", args: "any", strict: true, nulls: "total" },
  { name: "mod", args: "any", strict: true, nulls: "total" },
  { name: "power", args: "any", strict: true, nulls: "total" },
  { name: "pow", args: "any", strict: true, nulls: "total" },
  { name: "btrim", args: "any", strict: true, nulls: "total" },
  { name: "ltrim", args: "any", strict: true, nulls: "total" },
  { name: "rtrim", args: "any", strict: true, nulls: "total" },
  { name: "lpad", args: "any", strict: true, nulls: "total" },
  { name: "rpad", args: "any", strict: true, nulls: "total" },
  { name: "replace", args: "any", strict: true, nulls: "total" },
  { name: "reverse", args: "any", strict: true, nulls: "total" },
  { name: "left", args: "any", strict: true, nulls: "total" },
  { name: "right", args: "any", strict: true, nulls: "total" },
  { name: "repeat", args: "any", strict: true, nulls: "total" },
  { name: "split_part", args: "any", strict: true, nulls: "total" },
  { name: "strpos", args: "any", strict: true, nulls: "total" },
  { name: "position", args: "any", strict: true, nulls: "total" },
  { name: "substr", args: "any", strict: true, nulls: "total" },
  { name: "md5", args: "any", strict: true, nulls: "total" },
  { name: "to_date", args: "any", strict: true, nulls: "total" },
  { name: "to_timestamp", args: "any", strict: true, nulls: "total" },
  { name: "to_number", args: "any", strict: true, nulls: "total" },
  { name: "date_trunc", args: "any", strict: true, nulls: "total" },
  { name: "age", args: "any", strict: true, nulls: "total" },
  { name: "make_date", args: "any", strict: true, nulls: "total" },
  { name: "make_time", args: "any", strict: true, nulls: "total" },
  { name: "make_timestamp", args: "any", strict: true, nulls: "total" },
  { name: "make_timestamptz", args: "any", strict: true, nulls: "total" },
  { name: "make_interval", args: "any", strict: true, nulls: "total" },
  { name: "justify_days", args: "any", strict: true, nulls: "total" },
  { name: "justify_hours", args: "any", strict: true, nulls: "total" },
  { name: "justify_interval", args: "any", strict: true, nulls: "total" },
  { name: "timezone", args: "any", strict: true, nulls: "total" },
  { name: "cardinality", args: "any", strict: true, nulls: "total" },
  { name: "to_json", args: "any", strict: true, nulls: "total" },
  { name: "to_jsonb", args: "any", strict: true, nulls: "total" },
  { name: "row_to_json", args: "any", strict: true, nulls: "total" },
  { name: "jsonb_typeof", args: "any", strict: true, nulls: "total" },
  { name: "json_typeof", args: "any", strict: true, nulls: "total" },
  { name: "jsonb_array_length", args: "any", strict: true, nulls: "total" },
  { name: "json_array_length", args: "any", strict: true, nulls: "total" },
  { name: "jsonb_pretty", args: "any", strict: true, nulls: "total" },
  { name: "jsonb_strip_nulls", args: "any", strict: true, nulls: "total" },
  { name: "quote_ident", args: "any", strict: true, nulls: "total" },
  { name: "quote_literal", args: "any", strict: true, nulls: "total" },
  { name: "encode", args: "any", strict: true, nulls: "total" },
  { name: "decode", args: "any", strict: true, nulls: "total" },
  { name: "sha224", args: "any", strict: true, nulls: "total" },
  { name: "sha256", args: "any", strict: true, nulls: "total" },
  { name: "sha384", args: "any", strict: true, nulls: "total" },
  { name: "sha512", args: "any", strict: true, nulls: "total" },
  { name: "host", args: "any", strict: true, nulls: "total" },
  { name: "text", args: "any", strict: true, nulls: "total" },
  { name: "int4", args: "any", strict: true, nulls: "total" },
  { name: "int8", args: "any", strict: true, nulls: "total" },
  { name: "float8", args: "any", strict: true, nulls: "total" },
  { name: "numeric", args: "any", strict: true, nulls: "total" },
  { name: "starts_with", args: "any", strict: true, nulls: "total" },
  { name: "ascii", args: "any", strict: true, nulls: "total" },
  { name: "chr", args: "any", strict: true, nulls: "total" },
  { name: "translate", args: "any", strict: true, nulls: "total" },
  { name: "regexp_replace", args: "any", strict: true, nulls: "total" },
  { name: "date_bin", args: "any", strict: true, nulls: "total" },
  { name: "isfinite", args: "any", strict: true, nulls: "total" },
  { name: "sqrt", args: "any", strict: true, nulls: "total" },
  { name: "cbrt", args: "any", strict: true, nulls: "total" },
  { name: "ln", args: "any", strict: true, nulls: "total" },
  { name: "log", args: "any", strict: true, nulls: "total" },
  { name: "log10", args: "any", strict: true, nulls: "total" },
  { name: "degrees", args: "any", strict: true, nulls: "total" },
  { name: "radians", args: "any", strict: true, nulls: "total" },
  { name: "width_bucket", args: "any", strict: true, nulls: "total" },
  { name: "div", args: "any", strict: true, nulls: "total" },
  { name: "gcd", args: "any", strict: true, nulls: "total" },
  { name: "lcm", args: "any", strict: true, nulls: "total" },
  { name: "factorial", args: "any", strict: true, nulls: "total" },
  { name: "tsvector_to_array", args: "any", strict: true, nulls: "total" },
  { name: "to_tsvector", args: "any", strict: true, nulls: "total" },
  { name: "to_tsquery", args: "any", strict: true, nulls: "total" },
  { name: "plainto_tsquery", args: "any", strict: true, nulls: "total" },
  { name: "websearch_to_tsquery", args: "any", strict: true, nulls: "total" },
  { name: "ts_rank", args: "any", strict: true, nulls: "total" },
  { name: "to_hex", args: "any", strict: true, nulls: "total" },
  { name: "overlay", args: "any", strict: true, nulls: "total" },
  { name: "regexp_split_to_array", args: "any", strict: true, nulls: "total" },
  { name: "array_to_json", args: "any", strict: true, nulls: "total" },
  // Non-strict functions that still return a value for non-null arguments (empty arrays and
  // strings included).
  { name: "array_to_string", args: "any", strict: false, nulls: "non-null-args" },
  { name: "string_to_array", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_append", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_prepend", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_cat", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_remove", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_replace", args: "any", strict: false, nulls: "non-null-args" },
  { name: "array_positions", args: "any", strict: false, nulls: "non-null-args" },
  // Total for some overloads or arguments only (see NullRule).
  { name: "extract", args: "any", strict: true, nulls: "date-field" },
  { name: "date_part", args: "any", strict: true, nulls: "date-field" },
  { name: "to_char", args: "any", strict: true, nulls: "number-format" },
  { name: "lower", args: "any", strict: true, nulls: "text-arg" },
  { name: "upper", args: "any", strict: true, nulls: "text-arg" },
  // Never NULL, whatever the arguments (variadic builders, session facts, clocks).
  { name: "concat", args: "any", strict: false, nulls: "never-null" },
  { name: "jsonb_build_object", args: "any", strict: false, nulls: "never-null" },
  { name: "json_build_object", args: "any", strict: false, nulls: "never-null" },
  { name: "jsonb_build_array", args: "any", strict: false, nulls: "never-null" },
  { name: "json_build_array", args: "any", strict: false, nulls: "never-null" },
  { name: "quote_nullable", args: "any", strict: false, nulls: "never-null" },
  { name: "num_nulls", args: "any", strict: false, nulls: "never-null" },
  { name: "num_nonnulls", args: "any", strict: false, nulls: "never-null" },
  { name: "current_database", args: "any", strict: true, nulls: "never-null" },
  { name: "current_schema", args: "any", strict: true, nulls: "never-null" },
  { name: "version", args: "any", strict: true, nulls: "never-null" },
  { name: "pg_backend_pid", args: "any", strict: true, nulls: "never-null" },
  { name: "txid_current", args: "any", strict: true, nulls: "never-null" },
  { name: "gen_random_uuid", args: "any", strict: true, nulls: "never-null" },
  { name: "now", args: "any", strict: true, nulls: "never-null" },
  { name: "random", args: "any", strict: true, nulls: "never-null" },
  { name: "clock_timestamp", args: "any", strict: true, nulls: "never-null" },
  { name: "statement_timestamp", args: "any", strict: true, nulls: "never-null" },
  { name: "transaction_timestamp", args: "any", strict: true, nulls: "never-null" },
  { name: "timeofday", args: "any", strict: true, nulls: "never-null" },
  { name: "pi", args: "any", strict: true, nulls: "never-null" },
  // Ranking window functions: a number for every row.
  { name: "row_number", args: "any", strict: false, nulls: "never-null", kind: "window" },
  { name: "rank", args: "any", strict: false, nulls: "never-null", kind: "window" },
  { name: "dense_rank", args: "any", strict: false, nulls: "never-null", kind: "window" },
  { name: "percent_rank", args: "any", strict: false, nulls: "never-null", kind: "window" },
  { name: "cume_dist", args: "any", strict: false, nulls: "never-null", kind: "window" },
  // Non-null when the first argument is (NULLs among the rest are skipped or printed).
  { name: "concat_ws", args: "any", strict: false, nulls: "first-arg" },
  { name: "format", args: "any", strict: false, nulls: "first-arg" },
  // Aggregates that are NULL only over no rows or only NULL inputs.
  { name: "min", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "max", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "sum", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "avg", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "bool_and", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "bool_or", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "every", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "bit_and", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "bit_or", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "bit_xor", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "string_agg", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  { name: "range_agg", args: "any", strict: false, nulls: "null-on-all-null", kind: "aggregate" },
  {
    name: "range_intersect_agg",
    args: "any",
    strict: false,
    nulls: "null-on-all-null",
    kind: "aggregate",
  },
  // Aggregates that are non-null over any non-empty input, NULL inputs included.
  { name: "array_agg", args: "any", strict: false, nulls: "non-empty", kind: "aggregate" },
  { name: "json_agg", args: "any", strict: false, nulls: "non-empty", kind: "aggregate" },
  { name: "jsonb_agg", args: "any", strict: false, nulls: "non-empty", kind: "aggregate" },
  { name: "json_object_agg", args: "any", strict: false, nulls: "non-empty", kind: "aggregate" },
  { name: "jsonb_object_agg", args: "any", strict: false, nulls: "non-empty", kind: "aggregate" },
  {
    name: "json_agg_strict",
    args: "any",
    strict: false,
    nulls: "non-empty",
    kind: "aggregate",
    since: 160000,
  },
  {
    name: "jsonb_agg_strict",
    args: "any",
    strict: false,
    nulls: "non-empty",
    kind: "aggregate",
    since: 160000,
  },
  // Set-returning functions whose rows are never NULL for non-null arguments.
  { name: "generate_series", args: "any", strict: true, nulls: "set-non-null" },
  { name: "generate_subscripts", args: "any", strict: true, nulls: "set-non-null" },
];

function namesWhere(pick: (f: FunctionFact) => boolean): ReadonlySet<string> {
  return new Set(functionFacts.filter(pick).map((f) => f.name));
}

/** Strict functions that return non-null for non-null arguments. */
export const totalFunctions = namesWhere((f) => f.nulls === "total");

/** Functions that never return NULL, whatever their arguments. */
export const neverNullFunctions = namesWhere((f) => f.nulls === "never-null");

/** Window functions that never return NULL (the ranking functions). */
export const neverNullWindowFunctions = namesWhere(
  (f) => f.nulls === "never-null" && f.kind === "window",
);

/** Functions returning non-null when their first argument is not null, whatever the rest. */
export const firstArgFunctions = namesWhere((f) => f.nulls === "first-arg");

/** Aggregates that are NULL only over no rows or only NULL inputs. */
export const nullOnAllNullAggregates = namesWhere((f) => f.nulls === "null-on-all-null");

/** Aggregates that are non-null over any non-empty input (NULL inputs included). */
export const nonEmptyAggregates = namesWhere((f) => f.nulls === "non-empty");

/** Non-strict functions returning non-null when every argument is non-null. */
export const nonNullArgsFunctions = namesWhere((f) => f.nulls === "non-null-args");

/**
 * Fields of `extract`/`date_part` that are ±Infinity, not NULL, on an infinite date or
 * timestamp (every other field is NULL there).
 */
export const infiniteDateFields: ReadonlySet<string> = new Set([
  "year",
  "isoyear",
  "decade",
  "century",
  "millennium",
  "julian",
  "epoch",
]);

/** Set-returning functions whose rows are never null. */
export const nonNullSetFunctions = namesWhere((f) => f.nulls === "set-non-null");

/**
 * Operators that return non-null for non-null operands (they may raise, never return NULL).
 * Operators are matched by symbol whatever their operand types, so this stays a list of
 * symbols rather than `pg_operator` entries.
 */
export const totalOperators: ReadonlySet<string> = new Set([
  "=",
  "<>",
  "!=",
  "<",
  ">",
  "<=",
  ">=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "||",
  "~",
  "~*",
  "!~",
  "!~*",
  "~~",
  "~~*",
  "!~~",
  "!~~*",
  "@>",
  "<@",
  "&&",
  "&",
  "|",
  "#",
  "<<",
  ">>",
  "|/",
  "@",
  "?",
  "?|",
  "?&",
  "-|-",
  "<->",
]);
