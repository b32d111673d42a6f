/**
 * Handler skeletons, `src/<service>/handlers.ts`: created once, then owned by the user.
 * A class implementing the generated handler interface; bound methods delegate to the
 * generated bound implementations, unbound ones throw UNIMPLEMENTED. On regeneration, stubs
 * for new RPCs are spliced in before the class's closing brace (found with ts-morph); every
 * other character of the file stays as the user wrote it.
 */
import { Project, ScriptTarget, SyntaxKind } from "ts-morph";
import type { Diagnostic } from "../diagnostics.js";
import type { ConsumedEvent, MethodModel, ServiceModel } from "../model.js";
import { ProtoCodes } from "../proto/proto-codes.js";
import { createFileBuilder, type FileBuilder } from "./generated-file.js";
import { generatedHeader } from "./grpc-service-emitter.js";

/** The class name of a service's handler skeleton. */
export function handlerClassName(service: ServiceModel): string {
  return `${service.name}Impl`;
}

/** Path of a service's handler file, relative to the project, under `handlersDir`. */
export function handlerFilePath(service: ServiceModel, handlersDir: string): string {
  return `${handlersDir}/${service.stem}/handlers.ts`;
}

/** Local names of the runtime symbols a method's text uses. */
interface MethodNames {
  readonly callContext: string;
  readonly unimplemented: () => string;
}

/** One method of the class: a delegation to the bound implementation or an UNIMPLEMENTED stub. */
function methodText(service: ServiceModel, m: MethodModel, names: MethodNames): string {
  const iface = `${service.name}Handlers`;
  const first = m.kind === "unary" || m.kind === "server_streaming" ? "request" : "requests";
  const bound = m.binding !== undefined;
  const p = bound ? first : `_${first}`;
  const c = bound ? "ctx" : "_ctx";
  const head = [
    `  ${m.localName}(`,
    `    ${p}: Parameters<${iface}[${JSON.stringify(m.localName)}]>[0],`,
    `    ${c}: ${names.callContext},`,
    `  ): ReturnType<${iface}[${JSON.stringify(m.localName)}]> {`,
  ];
  const body = bound
    ? [`    return this.bound.${m.localName}(${first}, ctx);`]
    : [`    throw ${names.unimplemented()}(${JSON.stringify(`${service.typeName}/${m.name}`)});`];
  return [...head, ...body, "  }"].join("\n");
}

/** One consumer method of the class: a stub that throws until written (the event is retried, then dead-lettered). */
function consumerText(service: ServiceModel, e: ConsumedEvent): string {
  const iface = `${service.name}Handlers`;
  const param = (i: number): string => `Parameters<${iface}[${JSON.stringify(e.handler)}]>[${i}]`;
  return [
    `  ${e.handler}(`,
    `    _event: ${param(0)},`,
    `    _tx: ${param(1)},`,
    `    _ctx: ${param(2)},`,
    "  ): Promise<void> {",
    `    throw new Error(${JSON.stringify(`${service.name}.${e.handler}: handling ${e.topic} is not implemented yet`)});`,
    "  }",
  ].join("\n");
}

/** Runtime names for method text printed into `f`, imported on use. */
function runtimeNames(f: FileBuilder): MethodNames {
  return {
    callContext: f.runtime("CallContext"),
    unimplemented: () => f.runtime("unimplemented"),
  };
}

/**
 * The content of a new handler file at `path`; `genGrpcFromHandler` is the module of the
 * service code.
 */
export function createHandlerFile(
  service: ServiceModel,
  genGrpcFromHandler: string,
  path = `${service.stem}/handlers.ts`,
): string {
  const s = service.name;
  const cls = handlerClassName(service);
  const f = createFileBuilder(path, {
    preamble: [
      `// Handlers of ${service.typeName}. Created once by svcgen; this file is yours to edit.`,
      "// svcgen adds a stub here when the proto gains an RPC and never changes anything else.",
    ],
  });
  f.declare(cls);
  const gen = (name: string, typeOnly: boolean): string =>
    f.import({ name, from: genGrpcFromHandler, typeOnly });
  const names = runtimeNames(f);
  const methods = [
    ...service.methods.map((m) => methodText(service, m, names)),
    ...(service.consumer?.events ?? []).map((e) => consumerText(service, e)),
  ];
  f.print();
  f.print`/** Serves ${service.typeName}: register with \`add${s}(server, new ${cls}(pool))\`. */`;
  f.print`export class ${cls} implements ${gen(`${s}Handlers`, true)} {`;
  // With no RPC bound nothing reads the field yet; `protected` keeps noUnusedLocals quiet.
  const access = service.methods.some((m) => m.binding !== undefined) ? "private" : "protected";
  f.print`  ${access} readonly bound: ${gen(`${s}Bound`, true)};`;
  f.print();
  f.print`  constructor(db: ${f.import({ name: "Pool", from: "pg", typeOnly: true })}, options: ${gen(`${s}BoundOptions`, true)} = {}) {`;
  f.print`    this.bound = ${gen(`create${s}Bound`, false)}(db, options);`;
  f.print("  }");
  f.print();
  f.print(methods.join("\n\n"));
  f.print("}");
  return f.finish().content;
}

/** The result of merging a proto's RPCs into an existing handler file. */
export interface HandlerMerge {
  /** The new content, or undefined when nothing changes. */
  readonly content: string | undefined;
  readonly diagnostics: Diagnostic[];
}

/**
 * Adds stubs for RPCs the existing handler file's class lacks, splicing text before the
 * class's closing brace (and an import of `unimplemented`/`CallContext` when missing), and
 * warns about handler methods whose RPC no longer exists. `file` names the file in
 * diagnostics.
 */
export function mergeHandlerFile(
  service: ServiceModel,
  existing: string,
  file: string,
): HandlerMerge {
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: { target: ScriptTarget.ES2022 },
  });
  const sf = project.createSourceFile("handlers.ts", existing);
  const iface = `${service.name}Handlers`;
  const cls =
    sf.getClass(handlerClassName(service)) ??
    sf.getClasses().find((c) => c.getImplements().some((i) => i.getText().includes(iface)));
  const diagnostics: Diagnostic[] = [];
  if (cls === undefined) {
    diagnostics.push({
      severity: "warning",
      code: ProtoCodes.handlerFile,
      message: `No class implementing ${iface} in this file; new RPCs were not added`,
      file,
      hint: `Keep a class that implements ${iface}, or delete the file to recreate it`,
    });
    return { content: undefined, diagnostics };
  }
  const present = new Set(
    cls.getMembers().flatMap((m) => {
      const k = m.getKind();
      if (k === SyntaxKind.MethodDeclaration || k === SyntaxKind.PropertyDeclaration) {
        return [m.asKindOrThrow(k).getName()];
      }
      return [];
    }),
  );
  const consumed = service.consumer?.events ?? [];
  const rpcNames = new Set([
    ...service.methods.map((m) => m.localName),
    ...consumed.map((e) => e.handler),
  ]);
  for (const m of cls.getMethods()) {
    if (rpcNames.has(m.getName())) continue;
    // Private, protected and static methods are the user's helpers: none can handle an RPC.
    if (
      m.getName().startsWith("#") ||
      m.isStatic() ||
      m.hasModifier(SyntaxKind.PrivateKeyword) ||
      m.hasModifier(SyntaxKind.ProtectedKeyword)
    ) {
      continue;
    }
    const looksLikeHandler = m
      .getParameters()
      .some((p) => /CallContext|Handlers\[/.test(p.getTypeNode()?.getText() ?? ""));
    if (!looksLikeHandler) continue;
    const pos = sf.getLineAndColumnAtPos(m.getStart());
    diagnostics.push({
      severity: "warning",
      code: ProtoCodes.removedRpc,
      message: `${m.getName()} handles an RPC that ${service.typeName} no longer has; it was left as is`,
      file,
      line: pos.line,
      column: pos.column,
      hint: "Delete the method when you no longer need it",
    });
  }
  const missing = service.methods.filter((m) => !present.has(m.localName));
  const missingConsumers = consumed.filter((e) => !present.has(e.handler));
  if (missing.length === 0 && missingConsumers.length === 0) {
    return { content: undefined, diagnostics };
  }

  // Stubs need `unimplemented` and `CallContext`: the names the file imports, else imported
  // by one import statement from the printer, added before the first import.
  const imported = new Set(
    sf.getImportDeclarations().flatMap((d) => d.getNamedImports().map((n) => n.getName())),
  );
  const f = createFileBuilder(file, { preamble: [] });
  const names: MethodNames = {
    callContext: imported.has("CallContext") ? "CallContext" : f.runtime("CallContext"),
    unimplemented: () =>
      imported.has("unimplemented") ? "unimplemented" : f.runtime("unimplemented"),
  };

  // Splice before the closing brace so nothing the user wrote moves or changes.
  const close = cls.getEnd() - 1;
  const before = existing.slice(0, close);
  const lead = before.endsWith("\n") ? "" : "\n";
  const stubs = [
    ...missing.map((m) => `\n${methodText(service, m, names)}\n`),
    ...missingConsumers.map((e) => `\n${consumerText(service, e)}\n`),
  ].join("");
  let content = `${before}${lead}${stubs}${existing.slice(close)}`;
  const importBlock = f.renderImports();
  if (importBlock !== "") {
    const firstImport = sf.getImportDeclarations()[0];
    const at = firstImport === undefined ? 0 : firstImport.getStart();
    content = `${content.slice(0, at)}${importBlock}\n${content.slice(at)}`;
  }
  return { content, diagnostics };
}

/** Whether `content` is a file svcgen owns (never true for handler files). */
export function isGeneratedContent(content: string): boolean {
  return content.startsWith(generatedHeader);
}
