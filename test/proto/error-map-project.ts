/**
 * The set-up of the error-map end-to-end tests: a one-package project generated with
 * `svcgen generate`, served by its generated entry against a database of its own that holds
 * the project's migration, and called through its generated client.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { generateProject, type PackageParts, packageFiles } from "../cli/cli-project.js";
import { createTestDatabase, serverUrl } from "../db.js";

/** A served error-map project; `close()` stops it and removes its database and folder. */
export interface ErrorMapProject<C> {
  /** `gen/errors.ts` as generated. */
  readonly errorsTs: string;
  readonly client: C;
  close(): Promise<void>;
}

/**
 * Generates the project of package `name` from `parts` (in a folder named after `prefix`),
 * creates a database with its migration followed by `seedSql`, and serves `stem` on it.
 */
export async function serveErrorMapProject<C extends { close(): void }>(
  prefix: string,
  name: string,
  stem: string,
  parts: PackageParts,
  seedSql = "",
): Promise<ErrorMapProject<C>> {
  const project = await generateProject(prefix, { files: packageFiles(name, parts) }, serverUrl());
  const db = await createTestDatabase(
    `${prefix.replaceAll("-", "_")}_e2e`,
    seedSql === "" ? parts.migration : `${parts.migration}\n${seedSql}`,
  ).catch(async (e: unknown) => {
    await project.remove();
    throw e;
  });
  const errorsTs = await readFile(join(project.dir, "gen", "errors.ts"), "utf8");
  const served = await project.serve<C>(stem, db.url).catch(async (e: unknown) => {
    await db.drop();
    await project.remove();
    throw e;
  });
  return {
    errorsTs,
    client: served.client,
    async close() {
      served.client.close();
      await served.handle.close();
      await db.drop();
      await project.remove();
    },
  };
}
