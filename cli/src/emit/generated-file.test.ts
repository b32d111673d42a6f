/**
 * The printer every TypeScript emitter uses: tagged print with symbols imported on use,
 * clash-safe local names across runtime subpaths, JSDoc escaping, wrapped import blocks.
 */
import { describe, expect, test } from "vitest";
import { createFileBuilder, escapeComment } from "./generated-file.js";

describe("createFileBuilder", () => {
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
