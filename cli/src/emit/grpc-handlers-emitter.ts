/**
 * Handler skeletons, `src/<service>/handlers.ts`: created once, then owned by the user.
 * A class implementing the generated handler interface; bound methods delegate to the
 * generated bound implementations, unbound ones throw UNIMPLEMENTED. On regeneration, stubs
 * for new RPCs are spliced in before the class's closing brace (found with ts-morph); every
 * other character of the file stays as the user wrote it.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Project, ScriptTarget, SyntaxKind } from "ts-morph";
import type { Diagnostic } from "../diagnostics.js";
import { ProtoCodes } from "../proto/proto-codes.js";
import type { ServicePlan } from "../proto/rpc-binder.js";
import { generatedHeader, runtimeGrpcModule, serviceStem } from "./grpc-service-emitter.js";

/** The class name of a service's handler skeleton. */
export function handlerClassName(plan: ServicePlan): string {
  return `${plan.service.name}Impl`;
}

/** Path of a service's handler file, relative to the project, under `handlersDir`. */
export function handlerFilePath(plan: ServicePlan, handlersDir: string): string {
  return `${handlersDir}/${serviceStem(plan.service)}/handlers.ts`;
}

/** One method of the class: a delegation to the bound implementation or an UNIMPLEMENTED stub. */
function methodText(plan: ServicePlan, m: DescMethod): string {
  const iface = `${plan.service.name}Handlers`;
  const first =
    m.methodKind === "unary" || m.methodKind === "server_streaming" ? "request" : "requests";
  const bound = plan.bindings.has(m.localName);
  const p = bound ? first : `_${first}`;
  const c = bound ? "ctx" : "_ctx";
  const head = [
    `  ${m.localName}(`,
    `    ${p}: Parameters<${iface}[${JSON.stringify(m.localName)}]>[0],`,
    `    ${c}: CallContext,`,
    `  ): ReturnType<${iface}[${JSON.stringify(m.localName)}]> {`,
  ];
  const body = bound
    ? [`    return this.bound.${m.localName}(${first}, ctx);`]
    : [`    throw unimplemented(${JSON.stringify(`${m.parent.typeName}/${m.name}`)});`];
  return [...head, ...body, "  }"].join("\n");
}

/** The content of a new handler file; `genGrpcFromHandler` is the module of the service code. */
export function createHandlerFile(plan: ServicePlan, genGrpcFromHandler: string): string {
  const s = plan.service.name;
  const cls = handlerClassName(plan);
  const anyUnbound = plan.service.methods.some((m) => !plan.bindings.has(m.localName));
  const methods = plan.service.methods.map((m) => methodText(plan, m));
  const rtImports = ["type CallContext", ...(anyUnbound ? ["unimplemented"] : [])];
  return [
    `// Handlers of ${plan.service.typeName}. Created once by svcgen; this file is yours to edit.`,
    "// svcgen adds a stub here when the proto gains an RPC and never changes anything else.",
    "",
    `import { ${rtImports.join(", ")} } from "${runtimeGrpcModule}";`,
    `import type { Pool } from "pg";`,
    "import {",
    `  create${s}Bound,`,
    `  type ${s}Bound,`,
    `  type ${s}BoundOptions,`,
    `  type ${s}Handlers,`,
    `} from "${genGrpcFromHandler}";`,
    "",
    `/** Serves ${plan.service.typeName}: register with \`add${s}(server, new ${cls}(pool))\`. */`,
    `export class ${cls} implements ${s}Handlers {`,
    `  private readonly bound: ${s}Bound;`,
    "",
    `  constructor(db: Pool, options: ${s}BoundOptions = {}) {`,
    `    this.bound = create${s}Bound(db, options);`,
    "  }",
    "",
    methods.join("\n\n"),
    "}",
    "",
  ].join("\n");
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
export function mergeHandlerFile(plan: ServicePlan, existing: string, file: string): HandlerMerge {
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: { target: ScriptTarget.ES2022 },
  });
  const sf = project.createSourceFile("handlers.ts", existing);
  const iface = `${plan.service.name}Handlers`;
  const cls =
    sf.getClass(handlerClassName(plan)) ??
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
  const rpcNames = new Set(plan.service.methods.map((m) => m.localName));
  for (const m of cls.getMethods()) {
    if (rpcNames.has(m.getName())) continue;
    const looksLikeHandler = m
      .getParameters()
      .some((p) => /CallContext|Handlers\[/.test(p.getTypeNode()?.getText() ?? ""));
    if (!looksLikeHandler) continue;
    const pos = sf.getLineAndColumnAtPos(m.getStart());
    diagnostics.push({
      severity: "warning",
      code: ProtoCodes.removedRpc,
      message: `${m.getName()} handles an RPC that ${plan.service.typeName} no longer has; it was left as is`,
      file,
      line: pos.line,
      column: pos.column,
      hint: "Delete the method when you no longer need it",
    });
  }
  const missing = plan.service.methods.filter((m) => !present.has(m.localName));
  if (missing.length === 0) return { content: undefined, diagnostics };

  // Splice before the closing brace so nothing the user wrote moves or changes.
  const close = cls.getEnd() - 1;
  const before = existing.slice(0, close);
  const lead = before.endsWith("\n") ? "" : "\n";
  const stubs = missing.map((m) => `\n${methodText(plan, m)}\n`).join("");
  let content = `${before}${lead}${stubs}${existing.slice(close)}`;

  // Stubs need `unimplemented` and `CallContext`; add an import only for what is missing.
  const need = [];
  const imported = new Set(
    sf.getImportDeclarations().flatMap((d) => d.getNamedImports().map((n) => n.getName())),
  );
  if (!imported.has("CallContext")) need.push("type CallContext");
  if (!imported.has("unimplemented") && missing.some((m) => !plan.bindings.has(m.localName))) {
    need.push("unimplemented");
  }
  if (need.length > 0) {
    const line = `import { ${need.join(", ")} } from "${runtimeGrpcModule}";\n`;
    const firstImport = sf.getImportDeclarations()[0];
    const at = firstImport === undefined ? 0 : firstImport.getStart();
    content = content.slice(0, at) + line + content.slice(at);
  }
  return { content, diagnostics };
}

/** Whether `content` is a file svcgen owns (never true for handler files). */
export function isGeneratedContent(content: string): boolean {
  return content.startsWith(generatedHeader);
}
