/**
 * A generated file under construction: it tracks the file's imports (symbol and module,
 * de-duplicated, type-only imports merged into `import type`, sorted) and the names the file
 * declares itself, so templates never write import lines and output is deterministic.
 */
import type { GeneratedFile } from "../inputs.js";
import { type RuntimeSymbol, runtimeModule, runtimeSymbols } from "./runtime-symbols.js";

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

interface ImportEntry {
  readonly name: string;
  readonly from: string;
  readonly local: string;
  readonly isDefault: boolean;
  typeOnly: boolean;
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
  /** Imports a runtime symbol from the file's runtime module; returns its local name. */
  runtime(symbol: RuntimeSymbol): string;
  /** The import block: one statement per module and kind, sorted; empty string when none. */
  renderImports(): string;
  /** The finished file with the given content. */
  finish(content: string): GeneratedFile;
}

/**
 * Creates a builder for the file at `path`. `runtimeFrom` is the specifier runtime symbols
 * are imported from (default `@svcgen/runtime`).
 */
export function createFileBuilder(path: string, runtimeFrom: string = runtimeModule): FileBuilder {
  const declared = new Set<string>();
  const byKey = new Map<string, ImportEntry>();
  const locals = new Map<string, string>();

  const freeLocal = (wanted: string, key: string): string => {
    let local = wanted;
    for (let i = 1; declared.has(local) || (locals.has(local) && locals.get(local) !== key); i++) {
      local = `${wanted}_${i}`;
    }
    return local;
  };

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
      const entry: ImportEntry = {
        name: request.name,
        from: request.from,
        local,
        isDefault,
        typeOnly: request.typeOnly,
      };
      byKey.set(key, entry);
      locals.set(local, key);
      return local;
    },
    runtime(symbol) {
      return builder.import({
        name: symbol,
        from: runtimeFrom,
        typeOnly: runtimeSymbols[symbol].typeOnly,
      });
    },
    renderImports() {
      const modules = new Map<string, ImportEntry[]>();
      for (const entry of byKey.values()) {
        const list = modules.get(entry.from) ?? [];
        list.push(entry);
        modules.set(entry.from, list);
      }
      // Packages first, then relative paths; each group in code-unit order (locale-independent).
      const order = [...modules.keys()].sort((a, b) => {
        const ra = a.startsWith(".") ? 1 : 0;
        const rb = b.startsWith(".") ? 1 : 0;
        return ra !== rb ? ra - rb : compare(a, b);
      });
      const lines: string[] = [];
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
          oneLine.length <= 100
            ? oneLine
            : `${head}{\n${specifiers.map((s) => `  ${s},\n`).join("")}}${tail}`,
        );
      }
      return lines.join("\n");
    },
    finish(content) {
      return { path, content };
    },
  };
  return builder;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
