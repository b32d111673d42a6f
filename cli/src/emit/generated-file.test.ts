/**
 * The printer every TypeScript emitter uses: tagged print with symbols imported on use,
 * clash-safe local names across runtime subpaths, JSDoc escaping, wrapped import blocks.
 */
import { describe, expect, test } from "vitest";
import { createFileBuilder, escapeComment } from "./generated-file.js";

describe("createFileBuilder", () => {
  test("side-effect imports come first, in the order added, before sorted imports", () => {
    const f = createFileBuilder("gen/server/x.ts", { preamble: [] });
    f.import({ name: "a", from: "@aaa/first-alphabetically", typeOnly: false });
    f.runtimeSideEffect("telemetryRegister");
    f.runtimeSideEffect("telemetryRegister");
    f.runtime("isMainModule");
    expect(f.renderImports()).toBe(
      [
        'import "@svcgen/runtime/telemetry/register";',
        'import { a } from "@aaa/first-alphabetically";',
        'import { isMainModule } from "@svcgen/runtime/entry";',
      ].join("\n"),
    );
  });

  test("lazy imports render one Promise.all, never shadowing the file's names", () => {
    const f = createFileBuilder("gen/server/x.ts", { preamble: [] });
    f.declare("start");
    f.import({ name: "errorMap", from: "../errors.js", typeOnly: false });
    const lazy = f.lazyImports();
    expect(lazy.runtime("startServer")).toBe("startServer");
    expect(lazy.import("errorMap", "./other.js")).toBe("errorMap_1");
    expect(lazy.import("start", "./b.js")).toBe("start_1");
    expect(lazy.import("errorMap", "./other.js")).toBe("errorMap_1");
    expect(lazy.render("  ")).toEqual([
      "  const [",
      "    { startServer },",
      "    { start: start_1 },",
      "    { errorMap: errorMap_1 },",
      "  ] = await Promise.all([",
      '    import("@svcgen/runtime/server"),',
      '    import("./b.js"),',
      '    import("./other.js"),',
      "  ]);",
    ]);
    const one = f.lazyImports();
    one.runtime("runMain");
    expect(one.render("")).toEqual(['const { runMain } = await import("@svcgen/runtime/server");']);
    expect(() => f.lazyImports().runtime("ServerHandle")).toThrow(/is a type/);
  });

  test("prints lines with symbols imported where they are used", () => {
    const f = createFileBuilder("gen/grpc/x.ts", { preamble: ["// head"] });
    f.declare("Server");
    const pool = f.typeSymbol("Pool", "pg");
    f.print`export function make(db: ${pool}, s: ${f.typeSymbol("Server", "@grpc/grpc-js")}): void {`;
    f.print("  ", f.symbol("run", "./run.js"), "(db, ", 2, ");");
    f.print("}");
    expect(f.finish()).toEqual({
      path: "gen/grpc/x.ts",
      content: [
        "// head",
        "",
        'import type { Server as Server_1 } from "@grpc/grpc-js";',
        'import type { Pool } from "pg";',
        'import { run } from "./run.js";',
        "export function make(db: Pool, s: Server_1): void {",
        "  run(db, 2);",
        "}",
        "",
      ].join("\n"),
    });
  });

  test("runtime symbols come from their subpath; a clash between subpaths is renamed", () => {
    const f = createFileBuilder("gen/x.ts");
    expect(f.runtime("CallContext")).toBe("CallContext");
    expect(f.runtime("Queryable")).toBe("Queryable");
    expect(f.import({ name: "CallContext", from: "./own.js", typeOnly: true })).toBe(
      "CallContext_1",
    );
    expect(f.renderImports()).toBe(
      [
        'import type { Queryable } from "@svcgen/runtime";',
        'import type { CallContext } from "@svcgen/runtime/grpc";',
        'import type { CallContext as CallContext_1 } from "./own.js";',
      ].join("\n"),
    );
  });

  test("long import lists wrap one name per line", () => {
    const f = createFileBuilder("gen/x.ts");
    for (const n of ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]) {
      f.import({ name: `${n}Symbol`, from: "./names.js", typeOnly: false });
    }
    const block = f.renderImports();
    expect(block.split("\n")[0]).toBe("import {");
    expect(block.split("\n")).toHaveLength(10);
    expect(block.endsWith('} from "./names.js";')).toBe(true);
  });

  test("JSDoc lines are escaped and split; blank lines keep the star", () => {
    const f = createFileBuilder("gen/x.ts", { preamble: [] });
    f.jsDoc(["ends */ early", "", "two\nlines"], "  ");
    expect(f.finish().content).toBe(
      "  /**\n   * ends *\\/ early\n   *\n   * two\n   * lines\n   */\n",
    );
    expect(escapeComment("a */ b */")).toBe("a *\\/ b *\\/");
  });
});
