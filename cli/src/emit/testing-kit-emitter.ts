/**
 * Emits the test kit: `gen/testing/setup.ts` (the project's migrations for test databases,
 * the vitest global setup as its default export, and run with `node` a wrapper that sets the
 * run's databases up around a test command such as `node --test`) and `gen/testing/<service>.ts`
 * per service (`startTestService(options)`: the service in-process over a fresh test database,
 * with the same registration, interceptor chain and error map as `gen/server/<service>.ts`, a
 * test token issuer and the generated typed client). Thin and typed: the machinery is
 * `@svcgen/runtime/testing`. Tests only: these files start databases and servers.
 */
import { generatedHeader } from "../inputs.js";
import type { Model, ServiceModel } from "../model.js";
import { createFileBuilder } from "./generated-file.js";
import { serverEntryPath, serviceLoaderName, wrap } from "./server-entry-emitter.js";

/** Options of {@link emitTestingKit}. */
export interface TestingKitOptions {
  /** The output folder, project-relative (`gen`). */
  readonly out: string;
  /** The migrations, project-relative, in the order they are applied. */
  readonly migrations: readonly string[];
  /** Major version of the embedded PostgreSQL (`database.postgres`). */
  readonly postgres: number;
}

const testsOnly =
  "// For tests only (it starts test databases and servers): never import it from a service's code.";

function prefix(out: string): string {
  return out === "" ? "" : `${out}/`;
}

/** The test kit of one service: `<out>/testing/<stem>.ts`. */
export function testingKitPath(service: ServiceModel, out: string): string {
  return `${prefix(out)}testing/${service.stem}.ts`;
}

/** `gen/testing/setup.ts`. */
function emitSetup(options: TestingKitOptions): { path: string; content: string } {
  const f = createFileBuilder(`${prefix(options.out)}testing/setup.ts`, {
    preamble: [generatedHeader, testsOnly],
  });
  f.declare("testDatabases");
  f.declare("setup");
  const define = f.runtime("defineTestDatabases");
  const setupDatabases = f.runtime("setupTestDatabases");
  const runWith = f.runtime("runWithTestDatabases");
  const isMain = f.runtime("isMainModule");
  const config = f.runtime("TestDatabasesConfig");
  f.print();
  f.jsDoc([
    "The project's test databases: a template migrated once per test run with these",
    "migrations (in the order `svcgen generate` applies them), copied into a fresh database",
    "per test file or test. The project folder is found from this file's location, so the",
    "compiled copy in `dist/` works too.",
  ]);
  f.print`export const testDatabases: ${config} = ${define}({`;
  f.print("  root: import.meta.url,");
  f.print("  migrations: [");
  for (const m of options.migrations) f.print`    ${JSON.stringify(m)},`;
  f.print("  ],");
  f.print`  postgres: ${options.postgres},`;
  f.print("});");
  f.print();
  f.jsDoc([
    'The vitest global setup (`globalSetup: ["gen/testing/setup.ts"]`): one server per run',
    "(`DATABASE_URL`, else an embedded PostgreSQL) and the migrated template, shared by every",
    "test file; returns the teardown.",
  ]);
  f.print`export default async function setup(): Promise<() => Promise<void>> {`;
  f.print`  const databases = await ${setupDatabases}(testDatabases);`;
  f.print("  return () => databases.teardown();");
  f.print("}");
  f.print();
  f.print("// Run with node around a test command (`node dist/gen/testing/setup.js node --test");
  f.print("// dist/test/`): the same setup for runners without a global setup of their own.");
  f.print`if (${isMain}(import.meta.url)) {`;
  f.print`  process.exitCode = await ${runWith}(testDatabases, process.argv.slice(2));`;
  f.print("}");
  return f.finish();
}

/** `gen/testing/<service>.ts`. */
function emitServiceKit(
  service: ServiceModel,
  options: TestingKitOptions,
): { path: string; content: string } {
  const path = testingKitPath(service, options.out);
  const f = createFileBuilder(path, {
    preamble: [generatedHeader, `// source: ${service.protoFile} (${service.typeName})`, testsOnly],
  });
  f.declare("startTestService");
  const alias = `${service.name}TestService`;
  f.declare(alias);
  const start = f.runtime("startTestServer");
  const testService = f.runtime("TestService");
  const testOptions = f.runtime("TestServiceOptions");
  const errorMap = f.import({ name: "errorMap", from: "../errors.js", typeOnly: false });
  const clientType = f.import({
    name: `${service.name}Client`,
    from: `../grpc/${service.stem}.js`,
    typeOnly: true,
  });
  const createClient = f.import({
    name: `create${service.name}Client`,
    from: `../grpc/${service.stem}.js`,
    typeOnly: false,
  });
  const loader = f.import({
    name: serviceLoaderName(service),
    from: `../server/${service.stem}.js`,
    typeOnly: false,
  });
  const databases = f.import({ name: "testDatabases", from: "./setup.js", typeOnly: false });
  const handlersType = f.import({
    name: `${service.name}Handlers`,
    from: `../grpc/${service.stem}.js`,
    typeOnly: true,
  });
  f.print();
  f.jsDoc([`A running ${service.name} for a test (what \`startTestService\` resolves to).`]);
  f.print`export type ${alias} = ${testService}<${clientType}>;`;
  f.print();
  f.jsDoc(
    wrap(
      `Starts ${service.typeName} for a test: a fresh database copied from the project's ` +
        "migrated template, the service on a free loopback port with the interceptor chain, " +
        `error map and handlers of ${serverEntryPath(service, options.out)}, a test token ` +
        "issuer whose tokens it accepts (`await svc.as({ uid, roles })` is call metadata " +
        "with one), and a typed client. `close()` stops it and drops the database. " +
        "`options`: `databaseUrl` (use a database as is), `issuer` (share one), `faults` " +
        "(`SVCGEN_FAULTS` syntax), `handlers` (build the handlers yourself), `logs`, `client`, " +
        "`server` (any `startServer` option).",
    ),
  );
  f.print`export function startTestService(`;
  f.print`  options: ${testOptions}<${handlersType}> = {},`;
  f.print`): Promise<${alias}> {`;
  f.print`  return ${start}(`;
  f.print("    {");
  f.print`      database: ${databases},`;
  f.print`      services: async () => [await ${loader}()],`;
  f.print(errorMap === "errorMap" ? "      errorMap," : `      errorMap: ${errorMap},`);
  f.print`      createClient: ${createClient},`;
  f.print("    },");
  f.print("    options,");
  f.print("  );");
  f.print("}");
  return f.finish();
}

/**
 * The test kit of the Model's services: `setup.ts` and one file per service, sorted by path;
 * none when the Model has no services.
 */
export function emitTestingKit(
  model: Model,
  options: TestingKitOptions,
): { path: string; content: string }[] {
  if (model.services.length === 0) return [];
  const files = [emitSetup(options), ...model.services.map((s) => emitServiceKit(s, options))];
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
