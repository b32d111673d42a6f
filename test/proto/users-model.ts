/**
 * The Model of the users fixture as the real analyser produces it from the committed SQL
 * (fixtures/proto/users/sql: schema.sql and queries/users.sql) against the run's PostgreSQL
 * server, so the proto stage is tested on exactly what `svcgen generate` would bind.
 */
import * as path from "node:path";
import type { ResolvedConfig } from "../../cli/src/config/config.js";
import type { Model } from "../../cli/src/model.js";
import { analyseProject } from "../../cli/src/project.js";
import { serverUrl } from "../db.js";
import { protoConfig, usersProject } from "./proto-fixture.js";

/** The users fixture's config: its migration and query file, on the run's server. */
export function usersConfig(rootDir: string = usersProject): ResolvedConfig {
  const base = protoConfig(rootDir);
  return {
    ...base,
    schemaFiles: [path.join(usersProject, "sql/schema.sql")],
    queryFiles: [path.join(usersProject, "sql/queries/users.sql")],
    database: { ...base.database, url: serverUrl(), keepSchema: false },
  };
}

/** Analyses the users fixture (no cache); throws on any diagnostic. */
export async function analyseUsers(): Promise<Model> {
  const r = await analyseProject(usersConfig(), { cache: false });
  if (r.diagnostics.length > 0) throw new Error(JSON.stringify(r.diagnostics, null, 2));
  return r.model;
}

/** The analysed users fixture, once per test file. */
export const usersModel: Model = await analyseUsers();
