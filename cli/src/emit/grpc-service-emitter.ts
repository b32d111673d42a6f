/**
 * Emits `gen/grpc/<service>.ts`: the grpc-js service definition built from the protobuf-es
 * descriptor, a typed handler interface, method policies from svcgen's options, a
 * registration helper, a typed client factory, and the bound implementations of RPCs bound
 * to queries (which call the generated query functions of `gen/db/`).
 */
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { type GeneratedFile, generatedHeader } from "../inputs.js";
import type { ColumnModel } from "../model.js";
import { camelCase } from "../names.js";
import type {
  ColumnBinding,
  Conversion,
  MethodBinding,
  ParamBinding,
  ServicePlan,
} from "../proto/rpc-binder.js";
import { renderTsType } from "../ts-type-renderer.js";
import { queryFunctionName, queryStreamFunctionName } from "./query-module-emitter.js";

/** The header of every file svcgen owns (one definition, in inputs.ts). */
export { generatedHeader };

/** The runtime module generated gRPC code imports. */
export const runtimeGrpcModule = "@svcgen/runtime/grpc";

/** The expression reading a column from a decoded row (nested for `sqlc.embed` columns). */
function rowAccess(column: ColumnModel): string {
  return column.embed === undefined
    ? `row.${column.tsName}`
    : `row.${camelCase(column.embed)}.${column.tsName}`;
}

/** kebab-case of a PascalCase name: `UserService` -> `user-service`. */
export function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

/** lowerCamelCase of a PascalCase name. */
function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** The file name stem of a service's generated and handler files. */
export function serviceStem(service: DescService): string {
  return kebabCase(service.name);
}

/** Collects imports so generated files never write import lines by hand; sorted output. */
export class ImportTracker {
  readonly #values = new Map<string, Set<string>>();
  readonly #types = new Map<string, Set<string>>();

  /** Imports `name` from `from` as a value (also usable as a type). */
  value(from: string, name: string): string {
    const set = this.#values.get(from) ?? new Set<string>();
    set.add(name);
    this.#values.set(from, set);
    return name;
  }

  /** Imports `name` from `from` for use in types only. */
  type(from: string, name: string): string {
    const set = this.#types.get(from) ?? new Set<string>();
    set.add(name);
    this.#types.set(from, set);
    return name;
  }

  /** The import block: one statement per module, packages before relative paths. */
  print(): string {
    const modules = [...new Set([...this.#values.keys(), ...this.#types.keys()])].sort((a, b) => {
      const ra = a.startsWith(".") ? 1 : 0;
      const rb = b.startsWith(".") ? 1 : 0;
      return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
    });
    const lines: string[] = [];
    for (const m of modules) {
      const values = this.#values.get(m) ?? new Set<string>();
      const types = [...(this.#types.get(m) ?? [])].filter((t) => !values.has(t));
      const names = [
        ...[...values].map((v) => ({ n: v, t: false })),
        ...types.map((t) => ({ n: t, t: true })),
      ].sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
      if (values.size === 0) {
        lines.push(`import type { ${names.map((x) => x.n).join(", ")} } from "${m}";`);
      } else {
        lines.push(
          `import { ${names.map((x) => (x.t ? `type ${x.n}` : x.n)).join(", ")} } from "${m}";`,
        );
      }
    }
    return lines.join("\n");
  }
}

/** Where the generated message module of a proto file (DescFile name, no `.proto`) is, relative to `gen/grpc/`. */
function messageModule(protoFile: string): string {
  return `../proto/${protoFile}_pb.js`;
}

/** The protobuf-es local name of a message (nested names joined with `_`). */
function messageName(m: DescMessage): string {
  return m.typeName
    .slice(m.file.proto.package === "" ? 0 : m.file.proto.package.length + 1)
    .replace(/\./g, "_");
}

/** The module and local name of a message's generated type. */
function messageRef(m: DescMessage): { from: string; name: string } {
  const from = m.file.name.startsWith("google/protobuf/")
    ? "@bufbuild/protobuf/wkt"
    : messageModule(m.file.name);
  return { from, name: messageName(m) };
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

/** The handler signature of one method (parameters and return type), with types imported. */
export function methodSignature(
  imports: ImportTracker,
  method: DescMethod,
  ctxType: string,
): { params: string; returns: string } {
  const input = messageRef(method.input);
  const output = messageRef(method.output);
  const inputType = imports.type(input.from, input.name);
  const outputSchema = imports.type(output.from, `${output.name}Schema`);
  const init = `${imports.type("@bufbuild/protobuf", "MessageInitShape")}<typeof ${outputSchema}>`;
  switch (method.methodKind) {
    case "unary":
      return { params: `request: ${inputType}, ctx: ${ctxType}`, returns: `Promise<${init}>` };
    case "server_streaming":
      return {
        params: `request: ${inputType}, ctx: ${ctxType}`,
        returns: `AsyncIterable<${init}>`,
      };
    case "client_streaming":
      return {
        params: `requests: AsyncIterable<${inputType}>, ctx: ${ctxType}`,
        returns: `Promise<${init}>`,
      };
    case "bidi_streaming":
      return {
        params: `requests: AsyncIterable<${inputType}>, ctx: ${ctxType}`,
        returns: `AsyncIterable<${init}>`,
      };
  }
}

/** A JSDoc block from lines, indented. */
function jsdoc(lines: readonly string[], indent = ""): string {
  const body = lines
    .flatMap((l) => l.split("\n"))
    .map((l) => (l === "" ? `${indent} *` : `${indent} * ${l.replace(/\*\//g, "*\\/")}`));
  return [`${indent}/**`, ...body, `${indent} */`].join("\n");
}

function kindLabel(m: DescMethod): string {
  return m.methodKind.replace("_", "-");
}

/** Emits `gen/grpc/<service>.ts` for one service plan; `outDir` is e.g. `gen/grpc`. */
export function emitGrpcService(
  plan: ServicePlan,
  outDir: string,
  options: GrpcEmitOptions,
): GeneratedFile {
  const { service } = plan;
  const imports = new ImportTracker();
  const rt = runtimeGrpcModule;
  const svcConst = imports.value(messageModule(service.file.name), service.name);
  const base = lowerFirst(service.name);
  const ctxType = imports.type(rt, "CallContext");
  const body: string[] = [];

  body.push(
    jsdoc([
      `The @grpc/grpc-js service definition of ${service.typeName}, encoding with protobuf-es.`,
    ]),
    `export const ${base}Definition: ${imports.type("@grpc/grpc-js", "ServiceDefinition")} = ${imports.value(rt, "createServiceDefinition")}(${svcConst});`,
    "",
  );

  // The handler interface, one method per RPC in declaration order.
  const members: string[] = [];
  for (const m of service.methods) {
    const sig = methodSignature(imports, m, ctxType);
    const binding = plan.bindings.get(m.localName);
    const doc = [
      `${m.name}: ${kindLabel(m)}${binding === undefined ? "" : `, bound to query ${binding.query.name} (${binding.query.file}:${binding.query.line})`}.`,
    ];
    members.push(jsdoc(doc, "  "), `  ${m.localName}(${sig.params}): ${sig.returns};`);
  }
  body.push(
    jsdoc([`Implement this to serve ${service.typeName}; see \`add${service.name}\`.`]),
    `export interface ${service.name}Handlers {`,
    ...members,
    "}",
    "",
  );

  // Policies from svcgen's options.
  const policyType = imports.type(rt, "MethodPolicy");
  const policyLines = service.methods.map((m) => {
    const p = plan.policies.get(m.localName);
    const auth =
      p === undefined || p.auth.kind === "authenticated"
        ? `{ kind: "authenticated" }`
        : p.auth.kind === "public"
          ? `{ kind: "public" }`
          : `{ kind: "roles", roles: [${p.auth.roles.map((r) => JSON.stringify(r)).join(", ")}] }`;
    return `  ${m.localName}: { auth: ${auth}, timeoutMs: ${p?.timeoutMs ?? 0}, idempotent: ${p?.idempotent ?? false} },`;
  });
  body.push(
    jsdoc([
      "Auth rule, timeout and idempotency of each method, from the svcgen options in the proto.",
    ]),
    `export const ${base}Policies: Readonly<Record<string, ${policyType}>> = {`,
    ...policyLines,
    "};",
    "",
  );

  // Registration and client.
  body.push(
    jsdoc([`Adds ${service.typeName} to \`server\`, served by \`handlers\`.`]),
    `export function add${service.name}(`,
    `  server: ${imports.type("@grpc/grpc-js", "Server")},`,
    `  handlers: ${service.name}Handlers,`,
    `  options?: ${imports.type(rt, "ServerHandlerOptions")},`,
    "): void {",
    `  server.addService(`,
    `    ${base}Definition,`,
    `    ${imports.value(rt, "createServerHandlers")}(${svcConst}, handlers, ${base}Policies, options),`,
    "  );",
    "}",
    "",
    jsdoc([`A typed client of ${service.typeName}.`]),
    `export type ${service.name}Client = ${imports.type(rt, "ServiceClient")}<typeof ${svcConst}>;`,
    "",
    jsdoc([
      `Connects a typed client of ${service.typeName} to \`address\` (\`host:port\`).`,
      "Unary calls return promises, server streams async iterables; each call takes a deadline or",
      "timeoutMs, metadata and an AbortSignal. Default credentials: insecure (loopback, tests).",
    ]),
    `export function create${service.name}Client(address: string, options?: ${imports.type(rt, "ClientOptions")}): ${service.name}Client {`,
    `  return ${imports.value(rt, "createServiceClient")}(${svcConst}, address, options);`,
    "}",
  );

  // Bound implementations.
  const bound = service.methods.filter((m) => plan.bindings.has(m.localName));
  const boundNames = bound.map((m) => JSON.stringify(m.localName));
  body.push(
    "",
    jsdoc([
      `The methods of ${service.name} bound to queries, implemented by svcgen; handlers.ts delegates to them.`,
    ]),
    boundNames.length === 0
      ? `export type ${service.name}Bound = Record<string, never>;`
      : `export type ${service.name}Bound = Pick<${service.name}Handlers, ${boundNames.join(" | ")}>;`,
    "",
    jsdoc(["Options of the bound implementations."]),
    `export interface ${service.name}BoundOptions {`,
    "  /** Rows per cursor FETCH of server-streaming methods. Default 100. */",
    "  readonly streamBatchSize?: number;",
    "  /** Called after each cursor FETCH with the method name and the rows fetched. */",
    "  readonly onFetch?: (method: string, rows: number) => void;",
    "}",
    "",
  );
  const enumConsts = new Map<string, string>();
  const impls: string[] = [];
  const poolType = imports.type("pg", "Pool");
  for (const m of bound) {
    const b = plan.bindings.get(m.localName);
    if (b === undefined) continue;
    impls.push(...emitBound(b, imports, options, enumConsts));
  }
  body.push(
    jsdoc([
      `Creates the bound implementations of ${service.name} over a node-postgres pool.`,
      "`:one` without a row is NOT_FOUND; server streams read through a cursor with backpressure.",
    ]),
    `export function create${service.name}Bound(${bound.length === 0 ? "_db" : "db"}: ${poolType}, ${bound.some((m) => m.methodKind === "server_streaming") ? "options" : "_options"}: ${service.name}BoundOptions = {}): ${service.name}Bound {`,
    "  return {",
    ...impls,
    "  };",
    "}",
  );

  const consts = [...enumConsts.values()];
  const src = service.file.proto.name;
  const content = [
    generatedHeader,
    `// source: ${src} (${service.typeName})`,
    "",
    imports.print(),
    "",
    ...(consts.length > 0 ? [...consts, ""] : []),
    ...body,
    "",
  ].join("\n");
  return { path: `${outDir}/${serviceStem(service)}.ts`, content };
}

/** The expression converting `expr` by `c`; `name` names the value in runtime errors. */
function convert(
  c: Conversion,
  expr: string,
  name: string,
  imports: ImportTracker,
  enumConsts: Map<string, string>,
): string {
  const rt = runtimeGrpcModule;
  switch (c.kind) {
    case "identity":
      return expr;
    case "toBigInt":
      return `${imports.value(rt, "toBigInt")}(${expr})`;
    case "toNumber":
      return `Number(${expr})`;
    case "int8Param":
      return c.mode === "bigint"
        ? expr
        : c.mode === "string"
          ? `String(${expr})`
          : `Number(${expr})`;
    case "timestampOut":
      return `${imports.value("@bufbuild/protobuf/wkt", "timestampFromDate")}(${expr})`;
    case "timestampIn":
      return `${imports.value("@bufbuild/protobuf/wkt", "timestampDate")}(${expr})`;
    case "structOut":
      return `${imports.value(rt, "toJsonObject")}(${expr}, ${JSON.stringify(name)})`;
    case "structIn":
      return expr;
    case "jsonStringOut":
      return `${imports.value(rt, "toJsonString")}(${expr})`;
    case "jsonStringIn":
      return `${imports.value(rt, "parseJsonField")}(${expr}, ${JSON.stringify(name)})`;
    case "enumOut":
    case "enumIn": {
      const key = `${c.kind}:${c.pairs.map(([n, l]) => `${n}=${l}`).join(",")}`;
      let constName = enumConsts.get(key);
      const id = `enum${c.kind === "enumOut" ? "Numbers" : "Labels"}${enumConsts.size}`;
      if (constName === undefined) {
        const decl =
          c.kind === "enumOut"
            ? `const ${id} = new Map<string, number>([${c.pairs.map(([n, l]) => `[${JSON.stringify(l)}, ${n}]`).join(", ")}]);`
            : `const ${id} = new Map<number, ${c.labelsType}>([${c.pairs.map(([n, l]) => `[${n}, ${JSON.stringify(l)}]`).join(", ")}]);`;
        enumConsts.set(key, decl);
        constName = decl;
      }
      const ident = /^const (\w+)/.exec(constName)?.[1] ?? id;
      return c.kind === "enumOut"
        ? `${imports.value(rt, "labelToEnum")}(${ident}, ${expr}, ${JSON.stringify(name)})`
        : `${imports.value(rt, "enumToLabel")}(${ident}, ${expr}, ${JSON.stringify(name)})`;
    }
    case "list": {
      const inner = convert(c.element, "v", name, imports, enumConsts);
      return inner === "v" ? expr : `${expr}.map((v) => ${inner})`;
    }
  }
}

/** The object literal of a response message from a row expression. */
function rowToMessage(
  columns: readonly ColumnBinding[],
  rowExpr: (c: ColumnBinding) => string,
  imports: ImportTracker,
  enumConsts: Map<string, string>,
  indent: string,
): string {
  if (columns.length === 0) return "{}";
  const lines = columns.map((c) => {
    const v = rowExpr(c);
    const conv = convert(
      c.conversion,
      c.column.nullable ? "v" : v,
      c.column.name,
      imports,
      enumConsts,
    );
    const value = c.column.nullable
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
  imports: ImportTracker,
  enumConsts: Map<string, string>,
  indent: string,
): string {
  if (params.length === 0) return "{}";
  const lines = params.map(
    (p) => `${indent}  ${p.param.tsName}: ${paramValue(p, imports, enumConsts)},`,
  );
  return ["{", ...lines, `${indent}}`].join("\n");
}

/** The expression of one parameter's value. */
function paramValue(
  p: ParamBinding,
  imports: ImportTracker,
  enumConsts: Map<string, string>,
): string {
  const rt = runtimeGrpcModule;
  switch (p.source.kind) {
    case "principal":
      return `${imports.value(rt, "required")}(ctx.principal?.${p.source.key}, ${JSON.stringify(`principal.${p.source.key}`)})`;
    case "claim": {
      const v = `ctx.principal?.claims[${JSON.stringify(p.source.name)}]`;
      return p.required
        ? `${imports.value(rt, "requiredClaim")}(${v}, ${JSON.stringify(p.source.name)}) as ${renderTsType(p.param.tsType)}`
        : `(${v} ?? null) as ${renderTsType(p.param.tsType)} | null`;
    }
    case "field": {
      const fieldName = p.source.field.name;
      const raw = `request.${p.source.field.localName}`;
      if (p.required) {
        const req = `${imports.value(rt, "required")}(${raw}, ${JSON.stringify(fieldName)})`;
        return convert(p.conversion, req, fieldName, imports, enumConsts);
      }
      const hasPresence =
        p.source.field.proto.proto3Optional === true || p.source.field.fieldKind === "message";
      if (hasPresence && p.param.nullable) {
        const conv = convert(p.conversion, "v", fieldName, imports, enumConsts);
        return conv === "v"
          ? `${raw} ?? null`
          : `((v) => (v === undefined ? null : ${conv}))(${raw})`;
      }
      return convert(p.conversion, raw, fieldName, imports, enumConsts);
    }
  }
}

/** The bound implementation of one method, as object-literal members. */
function emitBound(
  b: MethodBinding,
  imports: ImportTracker,
  options: GrpcEmitOptions,
  enumConsts: Map<string, string>,
): string[] {
  const m = b.method;
  const q = b.query;
  const fn = queryFunctionName(q.name);
  const i6 = "      ";
  const out: string[] = [];
  const sig = methodSignature(imports, m, imports.type(runtimeGrpcModule, "CallContext"));
  const usesCtx = true;
  const reqUsed = b.params.some((p) => p.source.kind === "field");
  const params = sig.params
    .replace(/^request/, reqUsed ? "request" : "_request")
    .replace(/ctx:/, usesCtx ? "ctx:" : "_ctx:");
  if (b.result.kind === "stream") {
    // The query module's cursor-backed stream: same parameter encoding and row decoding as
    // every other call (int8 as bigint, timestamps as Date, ...), fetched as the client reads.
    const streamFn = imports.value(options.queryModule(q.file), queryStreamFunctionName(q.name));
    const args =
      b.params.length === 0 ? "" : `${paramsObject(b.params, imports, enumConsts, i6)}, `;
    const msg = rowToMessage(b.result.columns, (c) => rowAccess(c.column), imports, enumConsts, i6);
    out.push(
      `    async *${m.localName}(${params}): ${sig.returns} {`,
      `      const rows = ${streamFn}(db, ${args}{`,
      "        signal: ctx.signal,",
      "        ...(options.streamBatchSize === undefined ? {} : { batchSize: options.streamBatchSize }),",
      `        onFetch: (n) => options.onFetch?.(${JSON.stringify(m.name)}, n),`,
      "      });",
      "      for await (const row of rows) {",
      `        yield ${msg.split("\n").join("\n  ")};`,
      "      }",
      "    },",
    );
    return out;
  }
  const call = `${imports.value(options.queryModule(q.file), fn)}(db, ${paramsObject(b.params, imports, enumConsts, i6)}, { signal: ctx.signal })`;
  out.push(`    async ${m.localName}(${params}): ${sig.returns} {`);
  switch (b.result.kind) {
    case "one":
      out.push(
        `      const row = await ${call};`,
        `      if (row === null) throw ${imports.value(runtimeGrpcModule, "notFound")}(${JSON.stringify(`${m.parent.name}.${m.name}: no ${messageName(m.output)} for this request`)});`,
        `      return ${rowToMessage(b.result.columns, (c) => rowAccess(c.column), imports, enumConsts, i6)};`,
      );
      break;
    case "manyField":
      out.push(
        `      const rows = await ${call};`,
        "      return {",
        `        ${b.result.field.localName}: rows.map((row) => (${rowToMessage(b.result.columns, (c) => rowAccess(c.column), imports, enumConsts, "        ")})),`,
        "      };",
      );
      break;
    case "exec":
      out.push(`      await ${call};`, "      return {};");
      break;
    case "execrows":
      if (b.result.field === undefined) out.push(`      await ${call};`, "      return {};");
      else {
        out.push(
          `      const count = await ${call};`,
          `      return { ${b.result.field.localName}: ${convert(b.result.conversion, "count", "count", imports, enumConsts)} };`,
        );
      }
      break;
  }
  out.push("    },");
  return out;
}
