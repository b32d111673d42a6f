/**
 * Golden tests of the query-module emitter: hand-built Models in `fixtures/golden/db/<case>/`
 * emit exactly the files under `expected/` (rewritten when UPDATE_GOLDEN=1), and every
 * expected file type-checks under the repository's strict settings against the runtime.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import * as runtimeEntry from "../../../runtime/src/entry/index.js";
import * as runtimeEvents from "../../../runtime/src/events/index.js";
import * as runtimeGrpc from "../../../runtime/src/grpc/index.js";
import * as runtime from "../../../runtime/src/index.js";
import * as runtimeServer from "../../../runtime/src/server/index.js";
import * as runtimeTesting from "../../../runtime/src/testing/index.js";
import { buildModel } from "../analyse/model-builder.js";
import type { GeneratedFile } from "../inputs.js";
import { serialiseManifest } from "../manifest.js";
import type { Model } from "../model.js";
import { createFileBuilder } from "./generated-file.js";
import {
  emitQueryModules,
  type QueryEmitOptions,
  queryFunctionName,
  queryModulePaths,
} from "./query-module-emitter.js";
import { runtimeSymbols } from "./runtime-symbols.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const goldenDir = join(repoRoot, "fixtures/golden/db");
const update = process.env.UPDATE_GOLDEN === "1";

interface GoldenCase {
  readonly model: Model;
  readonly options: Omit<QueryEmitOptions, "out">;
}

const caseNames = readdirSync(goldenDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(goldenDir, d.name, "model.ts")))
  .map((d) => d.name)
  .sort();

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)).split("\\").join("/"))
    .sort();
}

async function emitCase(name: string): Promise<GeneratedFile[]> {
  const c = (await import(join(goldenDir, name, "model.ts"))) as GoldenCase;
  return emitQueryModules(c.model, { ...c.options, out: "gen" });
}

describe.each(caseNames)("golden case %s", (name) => {
  const expectedDir = join(goldenDir, name, "expected");

  test("emits exactly the expected files", async () => {
    const files = await emitCase(name);
    if (update) {
      rmSync(expectedDir, { recursive: true, force: true });
      for (const f of files) {
        mkdirSync(dirname(join(expectedDir, f.path)), { recursive: true });
        writeFileSync(join(expectedDir, f.path), f.content);
      }
    }
    expect(files.map((f) => f.path)).toEqual(listFiles(expectedDir));
    for (const f of files) {
      expect(f.content, f.path).toBe(readFileSync(join(expectedDir, f.path), "utf8"));
    }
  });

  test("is deterministic across processes: two fresh Node processes emit the same bytes", async () => {
    const c = (await import(join(goldenDir, name, "model.ts"))) as GoldenCase;
    // The model travels as the manifest does; each process reads it back and emits with the
    // built emitter (npm test builds first), so nothing is shared but the input.
    const input = JSON.stringify({ manifest: serialiseManifest(c.model), options: c.options });
    const script = `
      import { parseManifest } from ${JSON.stringify(join(repoRoot, "cli/dist/manifest.js"))};
      import { emitQueryModules } from ${JSON.stringify(join(repoRoot, "cli/dist/emit/query-module-emitter.js"))};
      const { manifest, options } = JSON.parse(process.argv[1]);
      process.stdout.write(JSON.stringify(emitQueryModules(parseManifest(manifest), { ...options, out: "gen" })));
    `;
    const run = (): string =>
      execFileSync(process.execPath, ["--input-type=module", "-e", script, input], {
        encoding: "utf8",
      });
    const first = run();
    const second = run();
    expect(second).toBe(first);
    expect(JSON.parse(first)).toEqual(await emitCase(name));
  });
});

/** Compiles files with the repository's strict settings; `@svcgen/runtime` is the workspace source. */
function typeCheck(
  rootNames: readonly string[],
  virtualFiles: ReadonlyMap<string, string>,
): string[] {
  const base = ts.readConfigFile(join(repoRoot, "tsconfig.base.json"), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(base.config, ts.sys, repoRoot);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    baseUrl: repoRoot,
    paths: {
      "@svcgen/runtime": ["runtime/src/index.ts"],
      "@svcgen/runtime/grpc": ["runtime/src/grpc/index.ts"],
      "@acme/types": ["fixtures/golden/db/support/acme-types.ts"],
      "@acme/decimal": ["fixtures/golden/db/support/acme-decimal.ts"],
    },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const text = virtualFiles.get(fileName);
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion)
      : getSourceFile(fileName, languageVersion, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (f) => virtualFiles.has(f) || fileExists(f);
  const program = ts.createProgram([...rootNames, ...virtualFiles.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file === undefined
        ? ""
        : `${relative(repoRoot, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

/** Runtime types that take a type argument. */
const genericSymbols = new Set(["ServiceClient", "CopySpec", "BatchResult", "TestService"]);

test("every golden output, and the usage examples next to them, type-check strictly", () => {
  const roots = caseNames.flatMap((name) => {
    const files = listFiles(join(goldenDir, name, "expected")).map((f) =>
      join(goldenDir, name, "expected", f),
    );
    const usage = join(goldenDir, name, "usage.ts");
    return existsSync(usage) ? [...files, usage] : files;
  });
  expect(roots.length).toBeGreaterThan(0);
  // Every runtime symbol generated code may import must resolve to an export of that kind.
  const symbolCheck = Object.entries(runtimeSymbols)
    .map(([symbol, { typeOnly, subpath }]) =>
      typeOnly
        ? `import type { ${symbol} } from "@svcgen/runtime${subpath}";\nexport type _${symbol} = ${symbol}${genericSymbols.has(symbol) ? "<unknown>" : ""};`
        : `import { ${symbol} } from "@svcgen/runtime${subpath}";\nexport const _${symbol} = ${symbol};`,
    )
    .join("\n");
  const virtual = new Map([[join(repoRoot, "fixtures/golden/db/__symbols__.ts"), symbolCheck]]);
  expect(typeCheck(roots, virtual)).toEqual([]);
});

test("every value symbol in the runtime symbol table is exported by its runtime subpath", () => {
  const exported: Record<string, ReadonlySet<string>> = {
    "": new Set(Object.keys(runtime)),
    "/grpc": new Set(Object.keys(runtimeGrpc)),
    "/server": new Set(Object.keys(runtimeServer)),
    "/entry": new Set(Object.keys(runtimeEntry)),
    "/events": new Set(Object.keys(runtimeEvents)),
    "/testing": new Set(Object.keys(runtimeTesting)),
  };
  for (const [symbol, { typeOnly, subpath }] of Object.entries(runtimeSymbols)) {
    if (!typeOnly) expect(exported[subpath]?.has(symbol), symbol).toBe(true);
  }
});

test("a model without queries emits nothing", () => {
  expect(emitQueryModules(buildModel({ queries: [] }), { out: "gen" })).toEqual([]);
});

describe("file builder imports", () => {
  test("de-duplicates, merges type-only imports, sorts, and renames clashes", () => {
    const b = createFileBuilder("gen/x.ts");
    b.declare("runOne");
    expect(b.runtime("Queryable")).toBe("Queryable");
    expect(b.runtime("Queryable")).toBe("Queryable");
    expect(b.runtime("runOne")).toBe("runOne_1");
    expect(b.import({ name: "Thing", from: "./b.js", typeOnly: true })).toBe("Thing");
    expect(b.import({ name: "Thing", from: "./a.js", typeOnly: true })).toBe("Thing_1");
    expect(b.import({ name: "Thing", from: "./b.js", typeOnly: false })).toBe("Thing");
    expect(b.import({ name: "D", from: "dec", typeOnly: true, isDefault: true })).toBe("D");
    expect(b.renderImports()).toBe(
      [
        'import { type Queryable, runOne as runOne_1 } from "@svcgen/runtime";',
        'import type D from "dec";',
        'import type { Thing as Thing_1 } from "./a.js";',
        'import { Thing } from "./b.js";',
      ].join("\n"),
    );
  });
});

test("function names and module paths other emitters import by", async () => {
  expect(queryFunctionName("GetUser")).toBe("getUser");
  expect(queryFunctionName("URLFor")).toBe("urlFor");
  expect(queryFunctionName("get_user_by_id")).toBe("getUserById");
  expect(queryFunctionName("Delete")).toBe("delete_");
  const { model } = (await import(join(goldenDir, "modes-and-names", "model.ts"))) as GoldenCase;
  expect([...queryModulePaths(model)]).toEqual([
    ["db/Reports/daily.sql", "Reports/daily"],
    ["db/enums.sql", "enums_2"],
    ["db/index.sql", "index_2"],
    ["db/reports/daily.sql", "reports/daily_2"],
  ]);
});

test("the output folder is a path prefix, whatever its spelling", async () => {
  const { model } = (await import(join(goldenDir, "basic", "model.ts"))) as GoldenCase;
  const paths = (out: string): string[] => emitQueryModules(model, { out }).map((f) => f.path);
  expect(paths("gen")).toEqual(paths("./gen/"));
  expect(paths(".")).toContain("db/users.ts");
  expect(paths("")).toEqual(paths("."));
  expect(paths("src\\gen")).toContain("src/gen/db/admin/roles.ts");
});
