/**
 * Binds RPCs to analysed queries, at generate time: `(svcgen.v1.method).query` names a
 * QueryModel; request fields feed its parameters and row columns fill response fields, by
 * name (snake/camel insensitive) or explicit mapping, when their types fit. Turns protobuf-es
 * descriptors into the Model's plain {@link ServiceModel}s (messages, fields and policies as
 * data), with a diagnostic at the .proto line for every misfit. The only module that reads
 * descriptors for the Model; emitters never see one.
 */
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  getOption,
  hasOption,
  ScalarType,
} from "@bufbuild/protobuf";
import { closestMatch } from "../config/suggest.js";
import type { Diagnostic } from "../diagnostics.js";
import type {
  ColumnBinding,
  Conversion,
  FieldRef,
  MessageRef,
  MethodBinding,
  MethodModel,
  MethodPolicy,
  ParamBinding,
  PgType,
  QueryModel,
  ResultBinding,
  ServiceModel,
  TsType,
} from "../model.js";
import { kebabCase } from "../names.js";
import {
  type Auth,
  type MethodRule,
  method as methodOption,
  Principal,
  service as serviceOption,
} from "../proto/gen/svcgen/v1/options_pb.js";
import { ProtoCodes } from "../proto/proto-codes.js";
import { fieldLocation, type Locator, methodLocation } from "../proto/source-locations.js";
import { leafType } from "../ts-type-renderer.js";
import { bindEvents } from "./event-binder.js";
import { stringTypes } from "./ts-types.js";

/** The module of a proto file's generated messages, relative to the output folder. */
export function protoModule(protoFile: string): MessageRef["module"] {
  return protoFile.startsWith("google/protobuf/")
    ? { kind: "package", specifier: "@bufbuild/protobuf/wkt" }
    : { kind: "out", path: `proto/${protoFile.replace(/\.proto$/, "")}_pb.js` };
}

/** A message as generated code names it. */
function messageRef(m: DescMessage): MessageRef {
  const pkg = m.file.proto.package;
  const tsName = m.typeName.slice(pkg === "" ? 0 : pkg.length + 1).replace(/\./g, "_");
  return {
    typeName: m.typeName,
    tsName,
    schema: `${tsName}Schema`,
    module: protoModule(m.file.proto.name),
  };
}

/** A field as bound code uses it. */
function fieldRef(f: DescField): FieldRef {
  return { name: f.name, localName: f.localName, presence: fieldHasPresence(f) };
}

/** The file name stem of a service's generated and handler files. */
export function serviceStem(service: DescService): string {
  return kebabCase(service.name);
}

/** snake_case and camelCase compare equal. */
function norm(name: string): string {
  return name.replace(/_/g, "").toLowerCase();
}

function authRule(auth: Auth | undefined): MethodPolicy["auth"] | undefined {
  switch (auth?.rule.case) {
    case "public":
      return { kind: "public" };
    case "authenticated":
      return { kind: "authenticated" };
    case "roles":
      return { kind: "roles", roles: [...auth.rule.value.names] };
    default:
      return undefined;
  }
}

/** The policy of `method` from its options and its service's. */
export function methodPolicy(method: DescMethod): MethodPolicy {
  const svc = hasOption(method.parent, serviceOption)
    ? getOption(method.parent, serviceOption)
    : undefined;
  const rule = hasOption(method, methodOption) ? getOption(method, methodOption) : undefined;
  const group = rule?.group || svc?.group || undefined;
  return {
    auth: authRule(rule?.auth) ?? authRule(svc?.auth) ?? { kind: "authenticated" },
    timeoutMs: (rule?.timeoutMs ?? 0) > 0 ? (rule?.timeoutMs ?? 0) : (svc?.timeoutMs ?? 0),
    idempotent: rule?.idempotent ?? false,
    ...(group === undefined ? {} : { group }),
  };
}

/** Strips domains down to the type that decides the mapping. */
function baseType(t: PgType): PgType {
  return t.kind === "domain" ? baseType(t.base) : t;
}

/** A proto type as users write it, for messages. */
function protoTypeName(f: DescField): string {
  const prefix = f.fieldKind === "list" ? "repeated " : f.proto.proto3Optional ? "optional " : "";
  return prefix + elementTypeName(f);
}

function elementTypeName(f: DescField): string {
  if (f.fieldKind === "map") return "map";
  const kind = f.fieldKind === "list" ? f.listKind : f.fieldKind;
  if (kind === "scalar") return ScalarType[f.scalar ?? ScalarType.STRING].toLowerCase();
  if (kind === "enum") return f.enum?.typeName ?? "enum";
  return f.message?.typeName ?? "message";
}

const int32s = new Set([ScalarType.INT32, ScalarType.SINT32, ScalarType.SFIXED32]);
const int64s = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64]);

/** What an element of one proto field is: scalar, enum or message (by type name). */
type ProtoElement =
  | { readonly kind: "scalar"; readonly scalar: ScalarType }
  | { readonly kind: "enum"; readonly desc: DescEnum }
  | { readonly kind: "message"; readonly typeName: string };

/** The well-known wrapper messages and the scalar each holds. */
const wrapperScalars: ReadonlyMap<string, ScalarType> = new Map([
  ["google.protobuf.DoubleValue", ScalarType.DOUBLE],
  ["google.protobuf.FloatValue", ScalarType.FLOAT],
  ["google.protobuf.Int64Value", ScalarType.INT64],
  ["google.protobuf.UInt64Value", ScalarType.UINT64],
  ["google.protobuf.Int32Value", ScalarType.INT32],
  ["google.protobuf.UInt32Value", ScalarType.UINT32],
  ["google.protobuf.BoolValue", ScalarType.BOOL],
  ["google.protobuf.StringValue", ScalarType.STRING],
  ["google.protobuf.BytesValue", ScalarType.BYTES],
]);

function elementOf(f: DescField): ProtoElement | undefined {
  switch (f.fieldKind) {
    case "scalar":
      return { kind: "scalar", scalar: f.scalar };
    case "enum":
      return { kind: "enum", desc: f.enum };
    case "message": {
      // protobuf-es unboxes a singular wrapper field (`google.protobuf.Int64Value` is
      // `bigint | undefined`), so it binds like an optional scalar.
      const wrapped = wrapperScalars.get(f.message.typeName);
      if (wrapped !== undefined) return { kind: "scalar", scalar: wrapped };
      return { kind: "message", typeName: f.message.typeName };
    }
    case "list":
      if (f.listKind === "scalar") return { kind: "scalar", scalar: f.scalar };
      if (f.listKind === "enum") return { kind: "enum", desc: f.enum };
      return { kind: "message", typeName: f.message.typeName };
    case "map":
      return undefined;
  }
}

/** Pairs a Postgres enum's labels with a proto enum's values, or says which do not match. */
function pairEnum(
  labels: readonly string[],
  desc: DescEnum,
): { pairs: (readonly [number, string])[] } | { error: string } {
  const pairs: (readonly [number, string])[] = [];
  const missing: string[] = [];
  for (const label of labels) {
    const v = desc.values.find(
      (x) => norm(x.localName) === norm(label) || norm(x.name) === norm(label),
    );
    if (v === undefined) missing.push(label);
    else pairs.push([v.number, label]);
  }
  const extra = desc.values.filter((v) => v.number !== 0 && !pairs.some(([n]) => n === v.number));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`labels ${missing.join(", ")} have no proto value`);
    if (extra.length > 0) parts.push(`values ${extra.map((v) => v.name).join(", ")} have no label`);
    return { error: parts.join("; ") };
  }
  return { pairs };
}

/**
 * The conversion of one element from Postgres (`t`) to proto (`out` true, a column) or back
 * (a parameter), or undefined when the types do not fit. `ts` is the TS type of the SQL
 * side's element (int8's and date's configured representation).
 */
function fitElement(t: PgType, el: ProtoElement, out: boolean, ts: TsType): Conversion | undefined {
  const dateMode = ts.kind === "date" ? ts.mode : undefined;
  const b = baseType(t);
  const typ = b.typname;
  if (b.kind === "enum") {
    // A proto string carries the label itself: as it is out, checked against the labels in.
    if (el.kind === "scalar" && el.scalar === ScalarType.STRING) {
      return out ? { kind: "identity" } : { kind: "labelIn", labels: b.labels };
    }
    if (el.kind !== "enum") return undefined;
    const r = pairEnum(b.labels, el.desc);
    if ("error" in r) return undefined;
    return { kind: out ? "enumOut" : "enumIn", pairs: r.pairs, labels: b.labels };
  }
  if (el.kind === "scalar") {
    const s = el.scalar;
    if (typ === "int2" || typ === "int4") {
      if (int32s.has(s)) return { kind: "identity" };
      if (int64s.has(s) && out) return { kind: "toBigInt" };
      return undefined;
    }
    if (typ === "int8") {
      if (!int64s.has(s)) return undefined;
      if (out) return { kind: "toBigInt" };
      const mode = ts.kind === "bigint" ? ts.mode : "bigint";
      return { kind: "int8Param", mode };
    }
    if (typ === "float4" || typ === "float8") {
      return s === ScalarType.DOUBLE || (s === ScalarType.FLOAT && typ === "float4")
        ? { kind: "identity" }
        : undefined;
    }
    if (typ === "bool") return s === ScalarType.BOOL ? { kind: "identity" } : undefined;
    if (typ === "bytea") return s === ScalarType.BYTES ? { kind: "identity" } : undefined;
    if (typ === "json" || typ === "jsonb") {
      if (s !== ScalarType.STRING) return undefined;
      return { kind: out ? "jsonStringOut" : "jsonStringIn" };
    }
    // A date is a string in TS only in `date: string` mode; as a Date it binds to a Timestamp.
    if (stringTypes.has(typ) || b.kind === "other" || (typ === "date" && dateMode === "string")) {
      return s === ScalarType.STRING ? { kind: "identity" } : undefined;
    }
    return undefined;
  }
  if (el.kind === "message") {
    if (el.typeName === "google.protobuf.Timestamp") {
      if (typ === "timestamptz" || typ === "timestamp" || (typ === "date" && dateMode === "Date")) {
        return { kind: out ? "timestampOut" : "timestampIn" };
      }
      return undefined;
    }
    if (el.typeName === "google.protobuf.Struct" && (typ === "json" || typ === "jsonb")) {
      return { kind: out ? "structOut" : "structIn" };
    }
  }
  return undefined;
}

/** Whether a field can represent "no value" (a nullable column). */
function fieldHasPresence(f: DescField): boolean {
  return f.proto.proto3Optional === true || f.fieldKind === "message";
}

/**
 * The conversion between a SQL value and a proto field (lists element-wise), or an error
 * message naming both types.
 */
function fitValue(
  t: PgType,
  ts: TsType,
  f: DescField,
  out: boolean,
): { conversion: Conversion } | { error: string } {
  const el = elementOf(f);
  const b = baseType(t);
  const bad = { error: `proto field ${f.name} (${protoTypeName(f)}) does not fit` };
  if (el === undefined) return bad;
  if (b.kind === "array") {
    if (f.fieldKind !== "list") return bad;
    const c = fitElement(b.element, el, out, leafType(ts));
    return c === undefined ? bad : { conversion: { kind: "list", element: c } };
  }
  if (f.fieldKind === "list") return bad;
  const c = fitElement(t, el, out, leafType(ts));
  if (c === undefined) {
    if (b.kind === "enum" && el.kind === "enum") {
      const r = pairEnum(b.labels, el.desc);
      if ("error" in r) return { error: `${bad.error}: ${r.error}` };
    }
    return bad;
  }
  return { conversion: c };
}

/** Input for {@link bindServices}. */
export interface BindInput {
  readonly services: readonly DescService[];
  readonly queries: readonly QueryModel[];
  readonly locate: Locator;
  /** A message of the build by full name, for event payload types. Default: none found. */
  readonly message?: (typeName: string) => DescMessage | undefined;
}

/**
 * Checks every bound RPC of `services` against the queries and returns the services as Model
 * data, plus a diagnostic for every problem (all of them, not only the first).
 */
export function bindServices(input: BindInput): {
  services: ServiceModel[];
  diagnostics: Diagnostic[];
} {
  const diagnostics: Diagnostic[] = [];
  const services: ServiceModel[] = [];
  const byName = new Map(input.queries.map((q) => [q.name, q]));
  for (const service of input.services) {
    const methods: MethodModel[] = [];
    for (const method of service.methods) {
      const base: MethodModel = {
        name: method.name,
        localName: method.localName,
        kind: method.methodKind,
        input: messageRef(method.input),
        output: messageRef(method.output),
        policy: methodPolicy(method),
      };
      methods.push(base);
      if (!hasOption(method, methodOption)) continue;
      const rule = getOption(method, methodOption);
      if (rule.query === "") continue;
      const at = methodLocation(input.locate, method);
      const report: Reporter = (code, message, hint, field) => {
        const where = field === undefined ? at : { ...at, ...fieldLocation(input.locate, field) };
        diagnostics.push({
          severity: "error",
          code: code as Diagnostic["code"],
          message: `${method.parent.name}.${method.name}: ${message}`,
          ...where,
          ...(hint === undefined ? {} : { hint }),
        });
      };
      const query = byName.get(rule.query);
      if (query === undefined) {
        // The same name but for case and underscores first, else the nearest by edit distance
        // (as misspelt config keys get it).
        const near =
          input.queries.find((q) => norm(q.name) === norm(rule.query)) ??
          byName.get(
            closestMatch(
              rule.query,
              input.queries.map((q) => q.name),
            ) ?? "",
          );
        report(
          ProtoCodes.unknownQuery,
          `query ${rule.query} does not exist`,
          near === undefined
            ? "Name a query from a -- name: annotation in the query files"
            : `Did you mean ${near.name} (${near.file}:${near.line})?`,
        );
        continue;
      }
      const binding = bindMethod(method, rule, query, report);
      if (binding !== undefined) methods[methods.length - 1] = { ...base, binding };
    }
    services.push({
      typeName: service.typeName,
      name: service.name,
      protoFile: service.file.proto.name,
      module: protoModule(service.file.proto.name),
      stem: serviceStem(service),
      methods,
    });
  }
  // Events: declared per RPC and per service, checked across services (producer and
  // consumer payload types).
  const events = bindEvents({
    services: input.services,
    message: input.message ?? (() => undefined),
    locate: input.locate,
    messageRef,
    fieldRef,
  });
  diagnostics.push(...events.diagnostics);
  const withEvents = services.map((s) => {
    const consumer = events.consumers.get(s.typeName);
    const methods = s.methods.map((m) => {
      const emits = events.emits.get(`${s.typeName}.${m.name}`);
      return emits === undefined ? m : { ...m, emits };
    });
    return consumer === undefined ? { ...s, methods } : { ...s, methods, consumer };
  });
  return { services: withEvents, diagnostics };
}

/** Reports a binding problem; with `field`, at that field's declaration, else at the RPC's option. */
type Reporter = (code: string, message: string, hint?: string, field?: DescField) => void;

function bindMethod(
  method: DescMethod,
  rule: MethodRule,
  query: QueryModel,
  report: Reporter,
): MethodBinding | undefined {
  const kind = method.methodKind;
  const before = { errors: 0 };
  const r: Reporter = (c, m, h, f) => {
    before.errors++;
    report(c, m, h, f);
  };
  const copy = query.command === "copyfrom";
  if (kind === "bidi_streaming" || (kind === "client_streaming") !== copy) {
    r(
      ProtoCodes.badBinding,
      copy
        ? `query ${query.name} is :copyfrom, so the RPC must be client-streaming (one request message per row)`
        : `a ${kind.replace("_", "-")} RPC cannot be bound to a :${query.command} query`,
      copy
        ? "Declare the RPC as rpc X(stream Row) returns (Count)"
        : "Bind it to a :copyfrom query, or remove the query option and implement the method in handlers.ts",
    );
    return undefined;
  }
  const params = bindParams(method, rule, query, r);
  let result: ResultBinding | undefined;
  switch (query.command) {
    case "one":
      if (kind !== "unary") {
        r(ProtoCodes.badBinding, `query ${query.name} is :one, so the RPC must be unary`);
        break;
      }
      result = { kind: "one", columns: bindColumns(method.output, rule, query, r) };
      break;
    case "many": {
      if (kind === "server_streaming") {
        result = { kind: "stream", columns: bindColumns(method.output, rule, query, r) };
        break;
      }
      const lists = method.output.fields.filter(
        (f) => f.fieldKind === "list" && f.listKind === "message",
      );
      const field =
        rule.rowsField === ""
          ? lists.length === 1
            ? lists[0]
            : undefined
          : method.output.fields.find((f) => f.name === rule.rowsField);
      if (field === undefined || field.fieldKind !== "list" || field.listKind !== "message") {
        r(
          ProtoCodes.badBinding,
          `query ${query.name} is :many, but ${method.output.typeName} has ${rule.rowsField === "" ? `${lists.length} repeated message fields, not exactly one` : `no repeated message field ${rule.rowsField}`}`,
          "Set rows_field in (svcgen.v1.method), or make the RPC server-streaming",
        );
        break;
      }
      result = {
        kind: "manyField",
        field: fieldRef(field),
        columns: bindColumns(field.message, rule, query, r),
      };
      break;
    }
    case "exec":
      if (kind !== "unary") {
        r(ProtoCodes.badBinding, `query ${query.name} is :exec, so the RPC must be unary`);
        break;
      }
      if (method.output.fields.length > 0) {
        r(
          ProtoCodes.badBinding,
          `query ${query.name} is :exec and returns nothing, but ${method.output.typeName} has fields`,
          "Return google.protobuf.Empty",
        );
        break;
      }
      result = { kind: "exec" };
      break;
    case "copyfrom":
    case "execrows": {
      const ints = method.output.fields.filter(
        (f) => f.fieldKind === "scalar" && (int32s.has(f.scalar) || int64s.has(f.scalar)),
      );
      const field =
        rule.countField === ""
          ? ints.length === 1
            ? ints[0]
            : undefined
          : ints.find((f) => f.name === rule.countField);
      const streamed = query.command === "copyfrom";
      if (
        kind !== (streamed ? "client_streaming" : "unary") ||
        (field === undefined && method.output.fields.length > 0)
      ) {
        r(
          ProtoCodes.badBinding,
          `query ${query.name} is :${query.command}; the RPC must be ${streamed ? "client-streaming" : "unary"} with one integer field for the count`,
          "Set count_field in (svcgen.v1.method), or return google.protobuf.Empty",
        );
        break;
      }
      const conversion: Conversion =
        field !== undefined && field.fieldKind === "scalar" && int64s.has(field.scalar)
          ? { kind: "toBigInt" }
          : { kind: "toNumber" };
      const resultKind = query.command === "copyfrom" ? "copyfrom" : "execrows";
      result =
        field === undefined
          ? { kind: resultKind, conversion }
          : { kind: resultKind, field: fieldRef(field), conversion };
      break;
    }
    default:
      r(
        ProtoCodes.badBinding,
        `query ${query.name} is :${query.command}, which cannot be bound yet`,
      );
  }
  if (result === undefined || before.errors > 0) return undefined;
  return { query: query.name, params, result };
}

function bindParams(
  method: DescMethod,
  rule: MethodRule,
  query: QueryModel,
  r: Reporter,
): ParamBinding[] {
  const out: ParamBinding[] = [];
  const req = method.input;
  for (const m of rule.params) {
    if (!query.params.some((p) => p.name === m.param)) {
      r(
        ProtoCodes.badBinding,
        `params names ${m.param}, which is not a parameter of ${query.name}`,
      );
    }
  }
  for (const [index, p] of query.params.entries()) {
    const mapping = rule.params.find((m) => m.param === p.name);
    const src = mapping?.source;
    if (src?.case === "principal") {
      if (src.value === Principal.UNSPECIFIED) {
        r(ProtoCodes.badBinding, `parameter ${p.name}: principal is unspecified`);
        continue;
      }
      if (methodPolicy(method).auth.kind === "public") {
        r(
          ProtoCodes.badBinding,
          `parameter ${p.name} comes from the caller, but the RPC is public`,
        );
      }
      const key = src.value === Principal.EMAIL ? "email" : "uid";
      out.push({
        param: index,
        source: { kind: "principal", key },
        conversion: { kind: "identity" },
        required: true,
      });
      continue;
    }
    if (src?.case === "claim") {
      out.push({
        param: index,
        source: { kind: "claim", name: src.value },
        conversion: { kind: "identity" },
        required: !p.nullable,
      });
      continue;
    }
    const wanted = src?.case === "field" ? src.value : p.name;
    const field =
      src?.case === "field"
        ? req.fields.find((f) => f.name === wanted)
        : req.fields.find((f) => norm(f.name) === norm(wanted));
    if (field === undefined) {
      r(
        ProtoCodes.missingField,
        `query ${query.name} parameter ${p.name} (${p.pgType.name}) has no request field ${wanted} in ${req.typeName}`,
        `Add the field to ${req.name}, or map it with params: [{param: "${p.name}", field: "..."}]`,
      );
      continue;
    }
    const f = fitValue(p.pgType, p.tsType, field, false);
    if ("error" in f) {
      r(
        ProtoCodes.typeMismatch,
        `${f.error} query ${query.name} parameter ${p.name} (${p.pgType.name})`,
        undefined,
        field,
      );
      continue;
    }
    out.push({
      param: index,
      source: { kind: "field", field: fieldRef(field) },
      conversion: f.conversion,
      required: fieldHasPresence(field) && !p.nullable,
    });
  }
  return out;
}

function bindColumns(
  target: DescMessage,
  rule: MethodRule,
  query: QueryModel,
  r: Reporter,
): ColumnBinding[] {
  const out: ColumnBinding[] = [];
  for (const m of rule.columns) {
    if (!query.columns.some((c) => c.name === m.column)) {
      r(ProtoCodes.badBinding, `columns names ${m.column}, which is not a column of ${query.name}`);
    }
  }
  for (const field of target.fields) {
    const mapping = rule.columns.find((m) => m.field === field.name);
    const column =
      mapping === undefined
        ? query.columns.find((c) => norm(c.name) === norm(field.name))
        : query.columns.find((c) => c.name === mapping.column);
    if (column === undefined) {
      r(
        ProtoCodes.missingField,
        `response field ${target.name}.${field.name} (${protoTypeName(field)}) has no column in query ${query.name}`,
        `Select a column named ${field.name}, or map it with columns: [{field: "${field.name}", column: "..."}]`,
      );
      continue;
    }
    const f = fitValue(column.pgType, column.tsType, field, true);
    if ("error" in f) {
      r(
        ProtoCodes.typeMismatch,
        `${f.error} column ${column.name} (${column.pgType.name}${column.nullable ? ", nullable" : ""}) of query ${query.name}`,
        undefined,
        field,
      );
      continue;
    }
    if (column.nullable && !fieldHasPresence(field)) {
      r(
        ProtoCodes.typeMismatch,
        `column ${column.name} (${column.pgType.name}) of query ${query.name} is nullable, but proto field ${target.name}.${field.name} (${protoTypeName(field)}) cannot be unset`,
        "Declare the field optional (or a wrapper type), or make the column NOT NULL (COALESCE, or an alias ending in !)",
        field,
      );
      continue;
    }
    out.push({
      field: fieldRef(field),
      column: query.columns.indexOf(column),
      conversion: f.conversion,
    });
  }
  return out;
}
