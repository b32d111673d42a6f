/**
 * The printer of every TypeScript file svcgen writes, in the spirit of protoplugin's
 * `GeneratedFile`: code is printed line by line (plain or tagged-template `print`), symbols
 * are imported as they are used and get clash-safe local names (a message named `Server` next
 * to grpc-js's `Server` becomes `Server_1`), type-only uses merge into `import type`, and the
 * import block is sorted and wrapped. No emitter writes an import line or a JSDoc block by
 * hand, so output is deterministic and always well-formed.
 */
import { type GeneratedFile, generatedHeader } from "../inputs.js";
import type { TsType } from "../model.js";
import { projectRelativeImport } from "../project-paths.js";
import { renderTsType, type TsTypeHooks } from "../ts-type-renderer.js";
import {
  type RuntimeSymbol,
  runtimeModule,
  runtimeSideEffects,
  runtimeSymbols,
} from "./runtime-symbols.js";

/** One symbol to import. */
export interface ImportRequest {
  /** The exported name (`default` is implied by `isDefault`). */
  readonly name: string;
  /** Module specifier as written in the import statement. */
  readonly from: string;
  /** Used only in type positions: imported with `type`. */
  readonly typeOnly: boolean;
  /** Local name to bind, when it must differ from `name` (a config override asked for it). */
  readonly as?: string | undefined;
  /** A default import (`import X from "m"`). */
  readonly isDefault?: boolean | undefined;
}

/** A symbol to import where it is printed: `f.print\`const x: ${f.symbol(...)} = ...\``. */
export interface ImportSymbol {
  readonly kind: "import";
  readonly request: ImportRequest;
}

/** What `print` accepts: text, numbers, symbols (imported on use), and lists of these. */
export type Printable = string | number | ImportSymbol | readonly Printable[];

interface ImportEntry {
  readonly name: string;
  readonly from: string;
  readonly local: string;
  readonly isDefault: boolean;
  typeOnly: boolean;
}

/** Options of {@link createFileBuilder}. */
export interface FileBuilderOptions {
  /** Specifier of the runtime package (subpaths such as `/grpc` are appended). Default `@svcgen/runtime`. */
  readonly runtimeFrom?: string;
  /** Lines before the import block. Default: the generated-file header only. */
  readonly preamble?: readonly string[];
}

/** Builder of one generated file; see {@link createFileBuilder}. */
export interface FileBuilder {
  /** The file's path relative to the project folder. */
  readonly path: string;
  /**
   * Reserves a top-level name the file declares. Declare every local name before importing,
   * so an import that would clash is bound under another local name.
   */
  declare(name: string): void;
  /**
   * Adds an import and returns the local name to write in the code. The same symbol from the
   * same module is imported once; a value use wins over a type-only use. A local name taken
   * by a declaration or by another module's symbol gets a `_1`, `_2`, ... suffix, except
   * when the request fixes the local name (`as`), which must then be used as written.
   */
  import(request: ImportRequest): string;
  /** Imports a runtime symbol from its subpath of the runtime package; returns its local name. */
  runtime(symbol: RuntimeSymbol): string;
  /**
   * Imports a runtime module for its side effect (`import "@svcgen/runtime/telemetry/register";`).
   * Side-effect imports come before every other import, in the order they were added: an
   * entry's preload must run before anything else loads.
   */
  runtimeSideEffect(module: keyof typeof runtimeSideEffects): void;
  /**
   * A group of dynamic imports for one function body, rendered as one
   * `const [...] = await Promise.all([import(...), ...])`. Local names never shadow the
   * file's declarations and static imports.
   */
  lazyImports(): LazyImports;
  /** A symbol for `print`, imported (as a value) when printed. */
  symbol(name: string, from: string): ImportSymbol;
  /** A symbol for `print`, imported with `type` when printed (unless also used as a value). */
  typeSymbol(name: string, from: string): ImportSymbol;
  /**
   * The text of a TypeScript type, registering what it needs: override imports (relative
   * ones rewritten for this file), the runtime's `JsonValue`, and, with `enumsFrom`, the
   * named enum types of that module in place of label unions.
   */
  typeText(type: TsType, enums?: EnumNaming): string;
  /**
   * Prints one line: the parts joined, symbols imported and replaced by their local names.
   * Used as a tag (`f.print\`a ${b}\``) it prints the template, which may span lines. No
   * arguments: an empty line.
   */
  print(...parts: Printable[]): void;
  print(template: TemplateStringsArray, ...values: Printable[]): void;
  /** Prints a JSDoc block (lines escaped; multi-line entries split), indented by `indent`. */
  jsDoc(lines: readonly string[], indent?: string): void;
  /** The import block: one statement per module and kind, sorted, wrapped; empty when none. */
  renderImports(): string;
  /** The finished file: preamble, imports, and what was printed. */
  finish(): GeneratedFile;
}

/** Dynamic imports of one function body; see {@link FileBuilder.lazyImports}. */
export interface LazyImports {
  /** Adds a value import; returns the local name to use after {@link render}'s statement. */
  import(name: string, from: string): string;
  /** Adds a runtime value symbol from its subpath; returns its local name. */
  runtime(symbol: RuntimeSymbol): string;
  /** The statement loading every module of the group (modules sorted as static imports are). */
  render(indent: string): string[];
}

/** How a file names enum types: the module holding them and each enum's name there. */
export interface EnumNaming {
  /** Module specifier of the enums module, relative to the file. */
  readonly from: string;
  /** The exported type name of a Postgres enum (by its `pgName`), when it has one. */
  readonly nameOf: (pgName: string) => string | undefined;
}

/** The header every file svcgen owns starts with (re-exported from the one definition). */
export { generatedHeader };

/** Makes text safe inside a block comment: `*\/` would end it early. */
export function escapeComment(text: string): string {
  return text.replace(/\*\//g, "*\\/");
}

/** The lines of a JSDoc block (escaped, multi-line entries split), each prefixed by `indent`. */
export function jsDocLines(lines: readonly string[], indent = ""): string[] {
  const body = lines
    .flatMap((l) => l.split("\n"))
    .map((l) => (l === "" ? `${indent} *` : `${indent} * ${escapeComment(l)}`.trimEnd()));
  return [`${indent}/**`, ...body, `${indent} */`];
}

const maxImportLine = 100;

/** Creates the builder of the generated file at `path`. */
export function createFileBuilder(path: string, options: FileBuilderOptions = {}): FileBuilder {
  const runtimeFrom = options.runtimeFrom ?? runtimeModule;
  const preamble = options.preamble ?? [generatedHeader];
  const declared = new Set<string>();
  const byKey = new Map<string, ImportEntry>();
  const locals = new Map<string, string>();
  const body: string[] = [];
  // Runtime symbols and type hooks are asked for many times per file: remember them.
  const runtimeLocals = new Map<RuntimeSymbol, string>();
  const sideEffects: string[] = [];
  const hooksByEnums = new Map<EnumNaming | undefined, TsTypeHooks>();

  const freeLocal = (wanted: string, key: string): string => {
    let local = wanted;
    for (let i = 1; declared.has(local) || (locals.has(local) && locals.get(local) !== key); i++) {
      local = `${wanted}_${i}`;
    }
    return local;
  };

  const text = (p: Printable): string => {
    if (typeof p === "string") return p;
    if (typeof p === "number") return String(p);
    if (Array.isArray(p)) return (p as readonly Printable[]).map(text).join("");
    return builder.import((p as ImportSymbol).request);
  };

  const typeHooks = (enums: EnumNaming | undefined): TsTypeHooks => ({
    json: () => builder.runtime("JsonValue"),
    override: (o) => {
      for (const imp of o.imports) {
        const from =
          imp.from === runtimeModule ? runtimeFrom : projectRelativeImport(imp.from, path);
        builder.import({
          name: imp.name,
          from,
          typeOnly: true,
          as: imp.as,
          isDefault: imp.isDefault,
        });
      }
    },
    ...(enums === undefined
      ? {}
      : {
          enumName: (e) => {
            const name = enums.nameOf(e.pgName);
            return name === undefined
              ? renderTsType(e)
              : builder.import({ name, from: enums.from, typeOnly: true });
          },
        }),
  });

  const builder: FileBuilder = {
    path,
    declare(name) {
      declared.add(name);
    },
    import(request) {
      const isDefault = request.isDefault === true;
      const key = `${request.from}\0${isDefault ? "default" : request.name}\0${request.as ?? ""}`;
      const existing = byKey.get(key);
      if (existing !== undefined) {
        existing.typeOnly &&= request.typeOnly;
        return existing.local;
      }
      const local = request.as ?? freeLocal(request.name, key);
      byKey.set(key, {
        name: request.name,
        from: request.from,
        local,
        isDefault,
        typeOnly: request.typeOnly,
      });
      locals.set(local, key);
      return local;
    },
    runtime(symbol) {
      let local = runtimeLocals.get(symbol);
      if (local === undefined) {
        const s = runtimeSymbols[symbol];
        local = builder.import({
          name: symbol,
          from: runtimeFrom + s.subpath,
          typeOnly: s.typeOnly,
        });
        runtimeLocals.set(symbol, local);
      }
      return local;
    },
    runtimeSideEffect(module) {
      const from = runtimeFrom + runtimeSideEffects[module];
      if (!sideEffects.includes(from)) sideEffects.push(from);
    },
    lazyImports() {
      const byModule = new Map<string, Map<string, string>>();
      const taken = new Set<string>();
      const add = (name: string, from: string): string => {
        const names = byModule.get(from) ?? new Map<string, string>();
        byModule.set(from, names);
        const existing = names.get(name);
        if (existing !== undefined) return existing;
        let local = name;
        for (let i = 1; declared.has(local) || locals.has(local) || taken.has(local); i++) {
          local = `${name}_${i}`;
        }
        taken.add(local);
        names.set(name, local);
        return local;
      };
      return {
        import: add,
        runtime(symbol) {
          const s = runtimeSymbols[symbol];
          if (s.typeOnly) throw new Error(`${symbol} is a type: import it statically`);
          return add(symbol, runtimeFrom + s.subpath);
        },
        render(indent) {
          const modules = [...byModule.keys()].sort(compareModules);
          const pattern = (from: string): string => {
            const names = [...(byModule.get(from) ?? new Map<string, string>())].sort((a, b) =>
              compare(a[1], b[1]),
            );
            const parts = names.map(([n, l]) => (n === l ? n : `${n}: ${l}`));
            return `{ ${parts.join(", ")} }`;
          };
          const only = modules[0];
          if (modules.length === 1 && only !== undefined) {
            return [`${indent}const ${pattern(only)} = await import(${JSON.stringify(only)});`];
          }
          return [
            `${indent}const [`,
            ...modules.map((m) => `${indent}  ${pattern(m)},`),
            `${indent}] = await Promise.all([`,
            ...modules.map((m) => `${indent}  import(${JSON.stringify(m)}),`),
            `${indent}]);`,
          ];
        },
      };
    },
    symbol(name, from) {
      return { kind: "import", request: { name, from, typeOnly: false } };
    },
    typeSymbol(name, from) {
      return { kind: "import", request: { name, from, typeOnly: true } };
    },
    typeText(type, enums) {
      let hooks = hooksByEnums.get(enums);
      if (hooks === undefined) {
        hooks = typeHooks(enums);
        hooksByEnums.set(enums, hooks);
      }
      return renderTsType(type, hooks);
    },
    print(...args: unknown[]) {
      const first = args[0];
      if (Array.isArray(first) && "raw" in first) {
        const strings = first as unknown as TemplateStringsArray;
        let out = strings[0] ?? "";
        for (let i = 1; i < strings.length; i++) {
          out += text(args[i] as Printable) + (strings[i] ?? "");
        }
        body.push(out);
        return;
      }
      body.push((args as Printable[]).map(text).join(""));
    },
    jsDoc(lines, indent = "") {
      body.push(...jsDocLines(lines, indent));
    },
    renderImports() {
      const modules = new Map<string, ImportEntry[]>();
      for (const entry of byKey.values()) {
        const list = modules.get(entry.from) ?? [];
        list.push(entry);
        modules.set(entry.from, list);
      }
      const order = [...modules.keys()].sort(compareModules);
      // Side effects first and in their own order: a preload must run before anything loads.
      const lines: string[] = sideEffects.map((from) => `import ${JSON.stringify(from)};`);
      for (const from of order) {
        const entries = modules.get(from) ?? [];
        for (const d of entries
          .filter((e) => e.isDefault)
          .sort((a, b) => compare(a.local, b.local))) {
          lines.push(`import ${d.typeOnly ? "type " : ""}${d.local} from ${JSON.stringify(from)};`);
        }
        const named = entries.filter((e) => !e.isDefault).sort((a, b) => compare(a.local, b.local));
        if (named.length === 0) continue;
        const allTypes = named.every((e) => e.typeOnly);
        const specifiers = named.map((e) => {
          const binding = e.local === e.name ? e.name : `${e.name} as ${e.local}`;
          return !allTypes && e.typeOnly ? `type ${binding}` : binding;
        });
        const head = `import ${allTypes ? "type " : ""}`;
        const tail = ` from ${JSON.stringify(from)};`;
        const oneLine = `${head}{ ${specifiers.join(", ")} }${tail}`;
        // Long lists go one name per line, the way a formatter would lay them out.
        lines.push(
          oneLine.length <= maxImportLine
            ? oneLine
            : `${head}{\n${specifiers.map((s) => `  ${s},\n`).join("")}}${tail}`,
        );
      }
      return lines.join("\n");
    },
    finish() {
      const imports = builder.renderImports();
      const parts = [...preamble];
      if (imports !== "") parts.push("", imports);
      return { path, content: `${[...parts, ...body].join("\n")}\n` };
    },
  };
  return builder;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Packages first, then relative paths; each group in code-unit order (locale-independent). */
function compareModules(a: string, b: string): number {
  const ra = a.startsWith(".") ? 1 : 0;
  const rb = b.startsWith(".") ? 1 : 0;
  return ra !== rb ? ra - rb : compare(a, b);
}
