/**
 * Messages named like the symbols generated service code imports (grpc-js's `Server` and
 * `Metadata`, pg's `Pool`, the runtime's `CallContext`) get clash-free local names from the
 * printer, and the generated service and handler files type-check under the strict flags.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, expect, test } from "vitest";
import { buildModel } from "../../cli/src/analyse/model-builder.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { protoConfig, repoRoot } from "./proto-fixture.js";

// Inside the repository, so the runtime and the protobuf packages resolve for tsc.
const dir = path.join(repoRoot, "test/proto", `clash_${randomBytes(4).toString("hex")}`);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const proto = `syntax = "proto3";
package acme.clash.v1;

message Server { string name = 1; }
message Pool { int32 size = 1; }
message Metadata { string key = 1; }
message CallContext { string trace = 1; }

service ClashService {
  rpc Serve(Server) returns (Pool);
  rpc Describe(Metadata) returns (Server);
  rpc Trace(CallContext) returns (Metadata);
  rpc Watch(Server) returns (stream Pool);
}
`;

test("messages named Server, Pool, Metadata and CallContext generate code that compiles", async () => {
  mkdirSync(path.join(dir, "proto/acme/clash/v1"), { recursive: true });
  writeFileSync(path.join(dir, "proto/acme/clash/v1/clash.proto"), proto);
  const out = await generateProto(protoConfig(dir), buildModel({ queries: [] }), {
    readHandlerFile: () => undefined,
  });
  expect(out.diagnostics).toEqual([]);
  for (const f of [...out.files, ...out.handlerFiles]) {
    mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    writeFileSync(path.join(dir, f.path), f.content);
  }
  const service = readFileSync(path.join(dir, "gen/grpc/clash-service.ts"), "utf8");
  // Each clash is bound under a suffixed local name, never imported twice under one name.
  expect(service).toContain(
    'import type { Server as Server_1, ServiceDefinition } from "@grpc/grpc-js";',
  );
  expect(service).toContain("  type CallContext as CallContext_1,\n");
  expect(service).toContain("  type Server,\n");
  const locals = [...service.matchAll(/^\s*(?:type )?\w+(?: as (\w+))?,$/gm)].map(
    (m) =>
      m[1] ??
      m[0]
        .trim()
        .replace(/^type /, "")
        .replace(/,$/, ""),
  );
  expect(new Set(locals).size).toBe(locals.length);
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../../tsconfig.base.json",
      compilerOptions: { noEmit: true, rootDir: "." },
      include: ["gen/**/*.ts", "src/**/*.ts"],
    }),
  );
  const tsc = path.join(repoRoot, "node_modules/typescript/bin/tsc");
  let output = "";
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], {
      encoding: "utf8",
    });
  } catch (e) {
    output = String((e as { stdout?: unknown }).stdout ?? e);
  }
  expect(output).toBe("");
});
