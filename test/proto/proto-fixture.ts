/** Shared set-up of the proto tests: the users fixture's config and golden folder. */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResolvedConfig } from "../../cli/src/config/config.js";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The users fixture project (protos and SQL). */
export const usersProject = path.join(repoRoot, "fixtures/proto/users");

/** Golden output of the users fixture: a project tree (gen/, src/) next to the fixture. */
export const usersGolden = path.join(repoRoot, "fixtures/golden/grpc/users");

/** A resolved config of a project at `rootDir` with protos under `proto/`. */
export function protoConfig(
  rootDir: string,
  protoRoot = path.join(rootDir, "proto"),
): ResolvedConfig {
  return {
    configPath: path.join(rootDir, "svcgen.yaml"),
    rootDir,
    schemaFiles: [],
    queryFiles: [],
    out: path.join(rootDir, "gen"),
    database: { url: undefined, postgres: 15, useLiveSchema: false, keepSchema: false },
    types: [],
    int8: "bigint",
    date: "Date",
    preparedStatements: true,
    cacheDir: path.join(rootDir, ".svcgen-cache"),
    proto: { roots: [protoRoot], handlersDir: path.join(rootDir, "src") },
  };
}
