/**
 * Golden test of every proto output kind for the users fixture: messages, service code and
 * the handler skeleton, compared byte for byte with fixtures/golden/grpc/users (regenerate
 * with UPDATE_GOLDEN=1) and type-checked under the strict flags with tsc.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { buildModel } from "../../cli/src/analyse/model-builder.js";
import { emitErrorMap } from "../../cli/src/emit/error-map-emitter.js";
import { emitQueryModules } from "../../cli/src/emit/query-module-emitter.js";
import { emitServerEntries } from "../../cli/src/emit/server-entry-emitter.js";
import { emitTestingKit } from "../../cli/src/emit/testing-kit-emitter.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { protoConfig, repoRoot, usersGolden, usersProject } from "./proto-fixture.js";
import { usersModel } from "./users-model.js";

const update = process.env.UPDATE_GOLDEN === "1";

describe("golden output of the users fixture", async () => {
  const out = await generateProto(protoConfig(usersProject), usersModel, {
    readHandlerFile: () => undefined,
  });
  // The query modules the bound services call, as svcgen generate writes them next to gen/grpc.
  const queryModules = emitQueryModules(usersModel, { out: "gen" });
  // The error map and the server entries, as the core writes them beside the proto stage.
  const model = buildModel({ ...usersModel, services: out.services });
  const errors = emitErrorMap(model, { out: "gen", domain: "acme-users" });
  const entries = emitServerEntries(model, { out: "gen", handlersDir: "src" });
  const kit = emitTestingKit(model, {
    out: "gen",
    migrations: ["migrations/001_users.sql"],
    postgres: 15,
  });
  const files = [...queryModules, errors, ...entries, ...kit, ...out.files, ...out.handlerFiles];

  test("no diagnostics", () => {
    expect(out.diagnostics).toEqual([]);
  });

  test("emits messages, service code and a new handler skeleton", () => {
    expect(files.map((f) => f.path).sort()).toEqual([
      "gen/db/enums.ts",
      "gen/db/index.ts",
      "gen/db/users.ts",
      "gen/errors.ts",
      "gen/grpc/user-service.ts",
      "gen/proto/acme/users/v1/users_pb.ts",
      "gen/proto/buf/validate/validate_pb.ts",
      "gen/proto/svcgen/v1/options_pb.ts",
      "gen/server/all.ts",
      "gen/server/user-service.ts",
      "gen/testing/setup.ts",
      "gen/testing/user-service.ts",
      "src/user-service/handlers.ts",
    ]);
    expect(out.handlerFiles.every((f) => f.created)).toBe(true);
  });

  for (const f of files) {
    test(`${f.path} matches the golden file`, () => {
      const golden = path.join(usersGolden, f.path);
      if (update) {
        mkdirSync(path.dirname(golden), { recursive: true });
        writeFileSync(golden, f.content);
      }
      expect(f.content).toBe(readFileSync(golden, "utf8"));
    });
  }

  test("golden files type-check under the strict flags", () => {
    const tsc = path.join(repoRoot, "node_modules/typescript/bin/tsc");
    const run = () =>
      execFileSync(process.execPath, [tsc, "-p", path.join(usersGolden, "tsconfig.json")], {
        encoding: "utf8",
      });
    expect(run).not.toThrow();
  });
});
