/**
 * One PostgreSQL server for the whole test run: `DATABASE_URL` when set, else one embedded
 * server. Test files get a fresh database each with `createTestDatabase` (test/db.ts).
 */
import type { TestProject } from "vitest/node";
import { startEmbeddedServer } from "../cli/src/db/embedded-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== "") {
    project.provide("databaseUrl", fromEnv);
    return async () => {};
  }
  const server = await startEmbeddedServer(15);
  project.provide("databaseUrl", server.url);
  return () => server.stop();
}
