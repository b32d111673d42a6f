/**
 * Emits `gen/grpc/<service>.ts`: the grpc-js service definition built from the protobuf-es
 * descriptor, a typed handler interface, method policies from svcgen's options, a
 * registration helper, a typed client factory, and the bound implementations of RPCs bound
 * to queries (which call the generated query functions of `gen/db/`). Reads only the Model
 * (its services and queries) and prints with the one TypeScript printer.
 */
import { generatedHeader } from "../inputs.js";
import type {
  ColumnBinding,
  ColumnModel,
  Conversion,
  EmittedEvent,
  EventFieldSource,
  MessageRef,
  MethodBinding,
  MethodModel,
  Model,
  ModuleRef,
  ParamBinding,
  QueryModel,
  ServiceModel,
} from "../model.js";
import { camelCase } from "../names.js";
import { enumLabelsUnion } from "../ts-type-renderer.js";
import { createFileBuilder, type FileBuilder, jsDocLines } from "./generated-file.js";
import { queryFunctionName, queryStreamFunctionName } from "./query-module-emitter.js";

export { generatedHeader };

/** The runtime module generated gRPC code imports. */
export const runtimeGrpcModule = "@svcgen/runtime/grpc";

/** The expression reading a column from a decoded row (nested for `sqlc.embed` columns). */
function rowAccess(column: ColumnModel): string {
  return column.embed === undefined
    ? `row.${column.tsName}`
    : `row.${camelCase(column.embed)}.${column.tsName}`;
}

/** lowerCamelCase of a PascalCase name. */
function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** The specifier of a generated module as imported from `<out>/grpc/`. */
export function moduleSpecifier(m: ModuleRef): string {
  return m.kind === "package" ? m.specifier : `../${m.path}`;
}

/** Options of {@link emitGrpcService}. */
export interface GrpcEmitOptions {
  /** Module specifier of a query file's generated module relative to `gen/grpc/`. */
  readonly queryModule: (queryFile: string) => string;
}

/** Default: `sql/queries/users.sql` -> `../db/users.js`. */
export function defaultQueryModule(queryFile: string): string {
  const base = queryFile.slice(queryFile.lastIndexOf("/") + 1).replace(/\.sql$/, "");
  return `../db/${base}.js`;
}

/** The message's TS type, imported for types only. */
function messageType(f: FileBuilder, m: MessageRef): string {
  return f.import({ name: m.tsName, from: moduleSpecifier(m.module), typeOnly: true });
}

/** The handler signature of one method (parameters and return type), with types imported. */
function methodSignature(
  f: FileBuilder,
  method: MethodModel,
  names: { readonly request: string; readonly ctx: string },
): { params: string; returns: string } {
  const inputType = messageType(f, method.input);
  const outputSchema = f.import({
    name: method.output.schema,
    from: moduleSpecifier(method.output.module),
    typeOnly: true,
  });
  const init = `${f.import({ name: "MessageInitShape", from: "@bufbuild/protobuf", typeOnly: true })}<typeof ${outputSchema}>`;
  const ctx = `${names.ctx}: ${f.runtime("CallContext")}`;
  const streamingIn = method.kind === "client_streaming" || method.kind === "bidi_streaming";
  const streamingOut = method.kind === "server_streaming" || method.kind === "bidi_streaming";
  return {
    params: streamingIn
      ? `${names.request}s: AsyncIterable<${inputType}>, ${ctx}`
      : `${names.request}: ${inputType}, ${ctx}`,
    returns: streamingOut ? `AsyncIterable<${init}>` : `Promise<${init}>`,
  };
}

function kindLabel(m: MethodModel): string {
  return m.kind.replace("_", "-");
}

/** Emits `gen/grpc/<service>.ts` for one service of the Model; `outDir` is e.g. `gen/grpc`. */
export function emitGrpcService(
  service: ServiceModel,
  model: Model,
  outDir: string,
  options: GrpcEmitOptions,
): { path: string; content: string } {
  const f = createFileBuilder(`${outDir}/${service.stem}.ts`, {
    preamble: [generatedHeader, `// source: ${service.protoFile} (${service.typeName})`],
  });
  const s = service.name;
  const base = lowerFirst(s);
  const queries = new Map(model.queries.map((q) => [q.name, q]));
  const bound = service.methods.filter((m) => m.binding !== undefined);
  const produced = producedEvents(service);
  const consumer = service.consumer;
  const hasEvents = produced.length > 0 || consumer !== undefined;
  for (const name of [
    ...produced.map((e) => `emit${e.event.name}`),
    ...(hasEvents ? [`${base}Events`] : []),
    `${base}Definition`,
    `${s}Handlers`,
    `${base}Policies`,
    `add${s}`,
    `${s}Client`,
    `create${s}Client`,
    `${s}Bound`,
    `${s}BoundOptions`,
    `create${s}Bound`,
  ]) {
    f.declare(name);
  }
  const svcConst = f.import({ name: s, from: moduleSpecifier(service.module), typeOnly: false });
  const body: string[] = [];
  const doc = (lines: readonly string[], indent = ""): void => {
    body.push(...jsDocLines(lines, indent));
  };

  doc([`The @grpc/grpc-js service definition of ${service.typeName}, encoding with protobuf-es.`]);
  body.push(
    `export const ${base}Definition: ${f.import({ name: "ServiceDefinition", from: "@grpc/grpc-js", typeOnly: true })} = ${f.runtime("createServiceDefinition")}(${svcConst});`,
    "",
  );

  // The handler interface, one method per RPC in declaration order.
  doc([`Implement this to serve ${service.typeName}; see \`add${s}\`.`]);
  body.push(`export interface ${s}Handlers {`);
  for (const m of service.methods) {
    const sig = methodSignature(f, m, { request: "request", ctx: "ctx" });
    const q = m.binding === undefined ? undefined : queries.get(m.binding.query);
    doc(
      [
        `${m.name}: ${kindLabel(m)}${q === undefined ? "" : `, bound to query ${q.name} (${q.file}:${q.line})`}.`,
      ],
      "  ",
    );
    body.push(`  ${m.localName}(${sig.params}): ${sig.returns};`);
  }
  for (const e of consumer?.events ?? []) {
    doc(
      [
        `Consumes ${e.topic} (${e.message.typeName}) in consumer group ${consumer?.group}.`,
        "Called once per event with its payload, inside the transaction that records it as processed",
        "(write through `tx` and your writes commit with that record); throwing rolls back and the",
        "event is retried with backoff, then dead-lettered.",
      ],
      "  ",
    );
    body.push(
      `  ${e.handler}(event: ${messageType(f, e.message)}, tx: ${f.import({ name: "PoolClient", from: "pg", typeOnly: true })}, ctx: ${f.runtime("EventContext")}): Promise<void>;`,
    );
  }
  body.push("}", "");

  // Policies from svcgen's options.
  doc([
    "Auth rule, timeout, idempotency and bulkhead group of each method, from the svcgen options",
    "in the proto (without a group, the runtime's default: the service's full name).",
  ]);
  body.push(
    `export const ${base}Policies: Readonly<Record<string, ${f.runtime("MethodPolicy")}>> = {`,
  );
  for (const m of service.methods) {
    const p = m.policy;
    const auth =
      p.auth.kind === "roles"
        ? `{ kind: "roles", roles: [${p.auth.roles.map((r) => JSON.stringify(r)).join(", ")}] }`
        : `{ kind: ${JSON.stringify(p.auth.kind)} }`;
    const group = p.group === undefined ? "" : `, group: ${JSON.stringify(p.group)}`;
    body.push(
      `  ${m.localName}: { auth: ${auth}, timeoutMs: ${p.timeoutMs}, idempotent: ${p.idempotent}${group} },`,
    );
  }
  body.push("};", "");

  // Registration and client.
  doc([`Adds ${service.typeName} to \`server\`, served by \`handlers\`.`]);
  body.push(
    `export function add${s}(`,
    `  server: ${f.import({ name: "Server", from: "@grpc/grpc-js", typeOnly: true })},`,
    `  handlers: ${s}Handlers,`,
    `  options?: ${f.runtime("ServerHandlerOptions")},`,
    "): void {",
    "  server.addService(",
    `    ${base}Definition,`,
    `    ${f.runtime("createServerHandlers")}(${svcConst}, handlers, ${base}Policies, options),`,
    "  );",
    "}",
    "",
  );
  doc([`A typed client of ${service.typeName}.`]);
  body.push(`export type ${s}Client = ${f.runtime("ServiceClient")}<typeof ${svcConst}>;`, "");
  doc([
    `Connects a typed client of ${service.typeName} to \`target\`: \`host:port\`, a list of \`ip:port\``,
    "addresses or a DNS name with several records (`<app>.internal:50051`); calls are balanced",
    "round_robin across the instances, and one that fails or goes away leaves the rotation.",
    "Unary calls return promises, server streams async iterables; each call takes a deadline or",
    "timeoutMs, metadata and an AbortSignal. Default credentials: insecure (loopback, tests).",
  ]);
  body.push(
    `export function create${s}Client(target: ${f.runtime("ClientTarget")}, options?: ${f.runtime("ClientOptions")}): ${s}Client {`,
    `  return ${f.runtime("createServiceClient")}(${svcConst}, target, options);`,
    "}",
  );
  for (const e of produced) body.push("", ...emitHelper(f, e));
  if (hasEvents) body.push("", ...eventsConst(f, service, produced));

  // Bound implementations.
  const boundNames = bound.map((m) => JSON.stringify(m.localName));
  body.push("");
  doc([
    `The methods of ${s} bound to queries, implemented by svcgen; handlers.ts delegates to them.`,
  ]);
  body.push(
    boundNames.length === 0
      ? `export type ${s}Bound = Record<string, never>;`
      : `export type ${s}Bound = Pick<${s}Handlers, ${boundNames.join(" | ")}>;`,
    "",
  );
  doc(["Options of the bound implementations."]);
  body.push(
    `export interface ${s}BoundOptions {`,
    "  /** Rows per cursor FETCH of server-streaming methods. Default 100. */",
    "  readonly streamBatchSize?: number;",
    "  /** Called after each cursor FETCH with the method name and the rows fetched. */",
    "  readonly onFetch?: (method: string, rows: number) => void;",
    "}",
    "",
  );
  const ctx: BoundContext = {
    f,
    options,
    enumConsts: new Map(),
    service,
    keyed: new Map(produced.map((e) => [e.event.topic, e.keyed])),
  };
  const poolType = f.import({ name: "Pool", from: "pg", typeOnly: true });
  const impls: string[] = [];
  for (const m of bound) {
    const b = m.binding;
    const q = b === undefined ? undefined : queries.get(b.query);
    if (b === undefined || q === undefined) continue;
    impls.push(...emitBound(m, b, q, ctx));
  }
  doc([
    `Creates the bound implementations of ${s} over a node-postgres pool.`,
    "`:one` without a row is NOT_FOUND; server streams read through a cursor with backpressure.",
  ]);
  body.push(
    `export function create${s}Bound(${bound.length === 0 ? "_db" : "db"}: ${poolType}, ${bound.some((m) => m.kind === "server_streaming") ? "options" : "_options"}: ${s}BoundOptions = {}): ${s}Bound {`,
    "  return {",
    ...impls,
    "  };",
    "}",
  );

  f.print();
  const consts = [...ctx.enumConsts.values()].map((c) => c.decl);
  if (consts.length > 0) f.print(consts.join("\n"), "\n");
  for (const line of body) f.print(line);
  return f.finish();
}

interface BoundContext {
  readonly f: FileBuilder;
  readonly options: GrpcEmitOptions;
  /** Enum maps by conversion, declared once per file. */
  readonly enumConsts: Map<string, { readonly ident: string; readonly decl: string }>;
  readonly service: ServiceModel;
  /** Whether each produced topic's `emit<Event>` helper takes a key. */
  readonly keyed: ReadonlyMap<string, boolean>;
}

/** A topic the service's RPCs emit, once per topic, and whether any declaration has a key. */
interface ProducedEvent {
  readonly event: EmittedEvent;
  readonly keyed: boolean;
}

/** The topics the service's RPCs emit, in declaration order, one per topic. */
function producedEvents(service: ServiceModel): ProducedEvent[] {
  const out = new Map<string, { event: EmittedEvent; keyed: boolean }>();
  for (const m of service.methods) {
    for (const e of m.emits ?? []) {
      const seen = out.get(e.topic);
      const keyed = e.key !== undefined || e.handKey !== undefined;
      if (seen === undefined) out.set(e.topic, { event: e, keyed });
      else seen.keyed ||= keyed;
    }
  }
  return [...out.values()];
}

/** The message schema constant of `m`, imported as a value. */
function schemaValue(f: FileBuilder, m: MessageRef): string {
  return f.import({ name: m.schema, from: moduleSpecifier(m.module), typeOnly: false });
}

/** `emit<Event>(tx, payload, key?)`: the typed outbox write of one topic. */
function emitHelper(f: FileBuilder, p: ProducedEvent): string[] {
  const e = p.event;
  const schema = schemaValue(f, e.message);
  const init = `${f.import({ name: "MessageInitShape", from: "@bufbuild/protobuf", typeOnly: true })}<typeof ${schema}>`;
  const tx = `${f.import({ name: "PoolClient", from: "pg", typeOnly: true })} | ${f.import({ name: "Client", from: "pg", typeOnly: true })}`;
  const create = f.import({ name: "create", from: "@bufbuild/protobuf", typeOnly: false });
  const toBinary = f.import({ name: "toBinary", from: "@bufbuild/protobuf", typeOnly: false });
  return [
    ...jsDocLines([
      `Writes one ${e.topic} event (payload ${e.message.typeName}) to the outbox.`,
      "Call it with `tx`, the transaction that writes the data the event describes: relays deliver",
      "the event once that commits, and never if it rolls back; nothing waits for a consumer.",
      `${p.keyed ? "Events of one `key` reach consumers in order. " : ""}The active trace context goes in its`,
      "headers, so the consumer's span joins the producer's trace. Resolves with the event's id.",
    ]),
    `export function emit${e.name}(`,
    `  tx: ${tx},`,
    `  payload: ${init},`,
    ...(p.keyed ? ["  key: string,"] : []),
    "): Promise<string> {",
    `  return ${f.runtime("writeEvent")}(tx, {`,
    `    topic: ${JSON.stringify(e.topic)},`,
    ...(p.keyed ? ["    key,"] : []),
    `    payload: ${toBinary}(${schema}, ${create}(${schema}, payload)),`,
    `    headers: ${f.runtime("traceHeaders")}(tx),`,
    "  });",
    "}",
  ];
}

/** `<service>Events`: what the server entry needs to run the relay and the consumer. */
function eventsConst(f: FileBuilder, service: ServiceModel, produced: ProducedEvent[]): string[] {
  const base = lowerFirst(service.name);
  const c = service.consumer;
  const lines = [
    ...jsDocLines([
      `The events of ${service.typeName}, for its server entry: the topics its RPCs emit (the entry`,
      c === undefined
        ? "runs the outbox relay when there are any)."
        : `runs the outbox relay when there are any) and its consumer group ${c.group} (the entry`,
      ...(c === undefined ? [] : ["runs it, each event dispatched to its handler method)."]),
    ]),
    `export const ${base}Events: ${f.runtime("ServiceEvents")}<${service.name}Handlers> = {`,
    `  produces: [${produced.map((p) => JSON.stringify(p.event.topic)).join(", ")}],`,
  ];
  if (c !== undefined) {
    const fromBinary = f.import({
      name: "fromBinary",
      from: "@bufbuild/protobuf",
      typeOnly: false,
    });
    lines.push(
      "  consumes: {",
      `    group: ${JSON.stringify(c.group)},`,
      `    topics: [${c.events.map((e) => JSON.stringify(e.topic)).join(", ")}],`,
      `    handle(handlers, event: ${f.runtime("StoredEvent")}, tx, ctx) {`,
      "      switch (event.topic) {",
    );
    for (const e of c.events) {
      lines.push(
        `        case ${JSON.stringify(e.topic)}:`,
        `          return handlers.${e.handler}(${fromBinary}(${schemaValue(f, e.message)}, event.payload), tx, ctx);`,
      );
    }
    lines.push(
      "        default:",
      `          return Promise.reject(new Error(\`${service.name} does not consume \${event.topic}\`));`,
      "      }",
      "    },",
      "  },",
    );
  }
  lines.push("};");
  return lines;
}

/** The expression of an event's key or payload field source (`response.id`, `request.userId`). */
function sourceExpr(s: EventFieldSource): string {
  return `${s.from}.${s.field.localName}`;
}

/** The `await emit<Event>(tx, payload, key)` statements of a producing RPC, `response` in scope. */
function emitCalls(m: MethodModel, ctx: BoundContext, indent: string): string[] {
  const out: string[] = [];
  for (const e of m.emits ?? []) {
    // The payload: the response or request message itself, or an object, one field per line.
    let payload: string[];
    switch (e.payload.kind) {
      case "response":
      case "request":
        payload = [`${indent}  ${e.payload.kind},`];
        break;
      case "fields": {
        const parts = e.payload.fields.map(({ field, source }) =>
          // An unset optional source leaves a plain payload field at its default.
          source.field.presence && !field.presence
            ? `...(${sourceExpr(source)} === undefined ? {} : { ${field.localName}: ${sourceExpr(source)} })`
            : `${field.localName}: ${sourceExpr(source)}`,
        );
        payload =
          parts.length === 0
            ? [`${indent}  {},`]
            : [`${indent}  {`, ...parts.map((p) => `${indent}    ${p},`), `${indent}  },`];
        break;
      }
    }
    const key =
      e.key === undefined
        ? ctx.keyed.get(e.topic) === true
          ? ['""']
          : []
        : [`String(${sourceExpr(e.key)}${e.key.field.presence ? ' ?? ""' : ""})`];
    out.push(
      `${indent}await emit${e.name}(`,
      `${indent}  tx,`,
      ...payload,
      ...key.map((k) => `${indent}  ${k},`),
      `${indent});`,
    );
  }
  return out;
}

/** Whether a producing RPC's events read the request. */
function emitsReadRequest(m: MethodModel): boolean {
  return (m.emits ?? []).some(
    (e) =>
      e.key?.from === "request" ||
      e.payload.kind === "request" ||
      (e.payload.kind === "fields" && e.payload.fields.some((x) => x.source.from === "request")),
  );
}

/** The expression converting `expr` by `c`; `name` names the value in runtime errors. */
function convert(c: Conversion, expr: string, name: string, ctx: BoundContext): string {
  const { f } = ctx;
  const wkt = (symbol: string): string =>
    f.import({ name: symbol, from: "@bufbuild/protobuf/wkt", typeOnly: false });
  switch (c.kind) {
    case "identity":
      return expr;
    case "toBigInt":
      return `${f.runtime("toBigInt")}(${expr})`;
    case "toNumber":
      return `Number(${expr})`;
    case "int8Param":
      return c.mode === "bigint"
        ? expr
        : c.mode === "string"
          ? `String(${expr})`
          : `Number(${expr})`;
    case "timestampOut":
      return `${wkt("timestampFromDate")}(${expr})`;
    case "timestampIn":
      return `${wkt("timestampDate")}(${expr})`;
    case "structOut":
      return `${f.runtime("toJsonObject")}(${expr}, ${JSON.stringify(name)})`;
    case "structIn":
      return expr;
    case "jsonStringOut":
      return `${f.runtime("toJsonString")}(${expr})`;
    case "jsonStringIn":
      return `${f.runtime("parseJsonField")}(${expr}, ${JSON.stringify(name)})`;
    case "enumOut":
    case "enumIn": {
      const key = `${c.kind}:${c.pairs.map(([n, l]) => `${n}=${l}`).join(",")}`;
      let entry = ctx.enumConsts.get(key);
      if (entry === undefined) {
        const ident = `enum${c.kind === "enumOut" ? "Numbers" : "Labels"}${ctx.enumConsts.size}`;
        f.declare(ident);
        const decl =
          c.kind === "enumOut"
            ? `const ${ident} = new Map<string, number>([${c.pairs.map(([n, l]) => `[${JSON.stringify(l)}, ${n}]`).join(", ")}]);`
            : `const ${ident} = new Map<number, ${enumLabelsUnion(c.labels)}>([${c.pairs.map(([n, l]) => `[${n}, ${JSON.stringify(l)}]`).join(", ")}]);`;
        entry = { ident, decl };
        ctx.enumConsts.set(key, entry);
      }
      return c.kind === "enumOut"
        ? `${f.runtime("labelToEnum")}(${entry.ident}, ${expr}, ${JSON.stringify(name)})`
        : `${f.runtime("enumToLabel")}(${entry.ident}, ${expr}, ${JSON.stringify(name)})`;
    }
    case "labelIn": {
      const key = `labelIn:${c.labels.join(",")}`;
      let entry = ctx.enumConsts.get(key);
      if (entry === undefined) {
        const ident = `enumLabelSet${ctx.enumConsts.size}`;
        f.declare(ident);
        const decl = `const ${ident}: ReadonlySet<${enumLabelsUnion(c.labels)}> = new Set([${c.labels.map((l) => JSON.stringify(l)).join(", ")}]);`;
        entry = { ident, decl };
        ctx.enumConsts.set(key, entry);
      }
      return `${f.runtime("checkLabel")}(${entry.ident}, ${expr}, ${JSON.stringify(name)})`;
    }
    case "list": {
      const inner = convert(c.element, "v", name, ctx);
      return inner === "v" ? expr : `${expr}.map((v) => ${inner})`;
    }
  }
}

/** The object literal of a response message from a row. */
function rowToMessage(
  columns: readonly ColumnBinding[],
  q: QueryModel,
  ctx: BoundContext,
  indent: string,
): string {
  if (columns.length === 0) return "{}";
  const lines = columns.map((c) => {
    const column = q.columns[c.column]!;
    const v = rowAccess(column);
    const conv = convert(c.conversion, column.nullable ? "v" : v, column.name, ctx);
    const value = column.nullable
      ? conv === "v"
        ? `${v} ?? undefined`
        : `((v) => (v === null ? undefined : ${conv}))(${v})`
      : conv;
    return `${indent}  ${c.field.localName}: ${value},`;
  });
  return ["{", ...lines, `${indent}}`].join("\n");
}

/** The params object literal passed to the query function. */
function paramsObject(
  params: readonly ParamBinding[],
  q: QueryModel,
  ctx: BoundContext,
  indent: string,
): string {
  if (params.length === 0) return "{}";
  const lines = params.map(
    (p) => `${indent}  ${q.params[p.param]!.tsName}: ${paramValue(p, q, ctx)},`,
  );
  return ["{", ...lines, `${indent}}`].join("\n");
}

/** The expression of one parameter's value. */
function paramValue(p: ParamBinding, q: QueryModel, ctx: BoundContext): string {
  const { f } = ctx;
  const param = q.params[p.param]!;
  switch (p.source.kind) {
    case "principal":
      return `${f.runtime("required")}(ctx.principal?.${p.source.key}, ${JSON.stringify(`principal.${p.source.key}`)})`;
    case "claim": {
      const v = `ctx.principal?.claims[${JSON.stringify(p.source.name)}]`;
      const type = f.typeText(param.tsType);
      return p.required
        ? `${f.runtime("requiredClaim")}(${v}, ${JSON.stringify(p.source.name)}) as ${type}`
        : `(${v} ?? null) as ${type} | null`;
    }
    case "field": {
      const fieldName = p.source.field.name;
      const raw = `request.${p.source.field.localName}`;
      if (p.required) {
        const req = `${f.runtime("required")}(${raw}, ${JSON.stringify(fieldName)})`;
        return convert(p.conversion, req, fieldName, ctx);
      }
      if (p.source.field.presence && param.nullable) {
        const conv = convert(p.conversion, "v", fieldName, ctx);
        return conv === "v"
          ? `${raw} ?? null`
          : `((v) => (v === undefined ? null : ${conv}))(${raw})`;
      }
      return convert(p.conversion, raw, fieldName, ctx);
    }
  }
}

/** The bound implementation of one method, as object-literal members. */
function emitBound(m: MethodModel, b: MethodBinding, q: QueryModel, ctx: BoundContext): string[] {
  const { f, options } = ctx;
  const i6 = "      ";
  const reqUsed = b.params.some((p) => p.source.kind === "field") || emitsReadRequest(m);
  const sig = methodSignature(f, m, { request: reqUsed ? "request" : "_request", ctx: "ctx" });
  const queryModule = options.queryModule(q.file);
  if (b.result.kind === "stream") {
    // The query module's cursor-backed stream: same parameter encoding and row decoding as
    // every other call (int8 as bigint, timestamps as Date, ...), fetched as the client reads.
    const streamFn = f.import({
      name: queryStreamFunctionName(q.name),
      from: queryModule,
      typeOnly: false,
    });
    const args = b.params.length === 0 ? "" : `${paramsObject(b.params, q, ctx, i6)}, `;
    const msg = rowToMessage(b.result.columns, q, ctx, i6);
    return [
      `    async *${m.localName}(${sig.params}): ${sig.returns} {`,
      `      const rows = ${streamFn}(db, ${args}{`,
      "        signal: ctx.signal,",
      "        ...(options.streamBatchSize === undefined ? {} : { batchSize: options.streamBatchSize }),",
      `        onFetch: (n) => options.onFetch?.(${JSON.stringify(m.name)}, n),`,
      "      });",
      "      for await (const row of rows) {",
      `        yield ${msg.split("\n").join("\n  ")};`,
      "      }",
      "    },",
    ];
  }
  const fn = f.import({ name: queryFunctionName(q.name), from: queryModule, typeOnly: false });
  if (b.result.kind === "copyfrom") {
    // Each request message is one row, converted and copied as it arrives (backpressure
    // reaches the client through the request stream).
    const row = paramsObject(b.params, q, ctx, "        ");
    const copy = `${fn}(db, rows(), { signal: ctx.signal })`;
    const out = [
      `    async ${m.localName}(${sig.params}): ${sig.returns} {`,
      "      async function* rows() {",
      `        for await (const request of ${reqUsed ? "request" : "_request"}s) {`,
      `          yield ${row.split("\n").join("\n  ")};`,
      "        }",
      "      }",
    ];
    if (b.result.field === undefined) out.push(`      await ${copy};`, "      return {};");
    else {
      out.push(
        `      const count = await ${copy};`,
        `      return { ${b.result.field.localName}: ${convert(b.result.conversion, "count", "count", ctx)} };`,
      );
    }
    out.push("    },");
    return out;
  }
  // A producing RPC runs its query and writes its events in one transaction: `tx` instead of
  // the pool, the response built as a message (its fields feed keys and payloads), the events
  // written after the query; NOT_FOUND or any error rolls both back.
  const emitting = (m.emits ?? []).length > 0;
  const dbExpr = emitting ? "tx" : "db";
  const call = `${fn}(${dbExpr}, ${paramsObject(b.params, q, ctx, i6)}, { signal: ctx.signal })`;
  const lines: string[] = [];
  let value: string;
  switch (b.result.kind) {
    case "one":
      lines.push(
        `      const row = await ${call};`,
        `      if (row === null) throw ${f.runtime("notFound")}(${JSON.stringify(`${ctx.service.name}.${m.name}: no ${m.output.tsName} for this request`)});`,
      );
      value = rowToMessage(b.result.columns, q, ctx, i6);
      break;
    case "manyField":
      lines.push(`      const rows = await ${call};`);
      value = [
        "{",
        `        ${b.result.field.localName}: rows.map((row) => (${rowToMessage(b.result.columns, q, ctx, "        ")})),`,
        "      }",
      ].join("\n");
      break;
    case "exec":
      lines.push(`      await ${call};`);
      value = "{}";
      break;
    case "execrows":
      if (b.result.field === undefined) {
        lines.push(`      await ${call};`);
        value = "{}";
      } else {
        lines.push(`      const count = await ${call};`);
        value = `{ ${b.result.field.localName}: ${convert(b.result.conversion, "count", "count", ctx)} }`;
      }
      break;
  }
  const head = `    async ${m.localName}(${sig.params}): ${sig.returns} {`;
  if (!emitting) return [head, ...lines, `      return ${value};`, "    },"];
  const create = f.import({ name: "create", from: "@bufbuild/protobuf", typeOnly: false });
  const outSchema = schemaValue(f, m.output);
  const inner = [
    ...lines,
    `      const response = ${create}(${outSchema}, ${value});`,
    ...emitCalls(m, ctx, i6),
    "      return response;",
  ];
  return [
    head,
    `      return ${f.runtime("withTransaction")}(`,
    "        db,",
    "        async (tx) => {",
    ...inner.map((l) => (l === "" ? l : `    ${l}`.replace(/\n/g, "\n    "))),
    "        },",
    "        { signal: ctx.signal },",
    "      );",
    "    },",
  ];
}
