/**
 * The events fixture (fixtures/proto/events: orders that emit events, a mailer that consumes
 * them): its config and its Model as the real analyser produces it from the committed SQL
 * against the run's PostgreSQL server.
 */
import * as path from "node:path";
import type { ResolvedConfig } from "../../cli/src/config/config.js";
import type { Model } from "../../cli/src/model.js";
import { analyseProject } from "../../cli/src/project.js";
import { serverUrl } from "../db.js";
import { protoConfig, repoRoot } from "./proto-fixture.js";

/** The events fixture project (protos and SQL). */
export const eventsProject = path.join(repoRoot, "fixtures/proto/events");

/** Golden output of the events fixture. */
export const eventsGolden = path.join(repoRoot, "fixtures/golden/grpc/events");

/** The events fixture's config, with protos under `rootDir/proto` (default: the fixture's). */
export function eventsConfig(rootDir: string = eventsProject): ResolvedConfig {
  const base = protoConfig(rootDir);
  return {
    ...base,
    schemaFiles: [path.join(eventsProject, "sql/schema.sql")],
    queryFiles: ["orders.sql", "mails.sql"].map((f) => path.join(eventsProject, "sql/queries", f)),
    database: { ...base.database, url: serverUrl(), keepSchema: false },
  };
}

/** Analyses the events fixture's SQL (no cache); throws on any diagnostic. */
async function analyseEvents(): Promise<Model> {
  const r = await analyseProject(eventsConfig(), { cache: false });
  if (r.diagnostics.length > 0) throw new Error(JSON.stringify(r.diagnostics, null, 2));
  return r.model;
}

/** The analysed events fixture, once per test file. */
export const eventsModel: Model = await analyseEvents();
