/**
 * Emits the service bootstrap: `gen/server/<service>.ts` per service and `gen/server/all.ts`
 * (every service in one process). Each exports `start(options)` over the runtime's
 * `startServer` (services, policies, the error map of `gen/errors.ts`) and, run with `node`,
 * starts from the environment. Entries import `@svcgen/runtime/telemetry/register` first and
 * load everything that pulls in grpc-js or pg with `import()`, because the ESM loader hook only
 * sees modules loaded after it is registered: a static import of the service would load them
 * all before any module body runs, and nothing would be traced.
 *
 * Handlers come from the user's `src/<service>/handlers.ts` (`proto.handlers` in the config),
 * imported relative to the generated file: the class `<Service>Impl` built with the service's
 * pool (`new UserServiceImpl(pool)`).
 */
import { generatedHeader } from "../inputs.js";
import type { Model, ServiceModel } from "../model.js";
import { relativeModule } from "../project-paths.js";
import { createFileBuilder, type FileBuilder } from "./generated-file.js";
import { handlerClassName, handlerFilePath } from "./grpc-handlers-emitter.js";

/** Options of {@link emitServerEntries}. */
export interface ServerEmitOptions {
  /** The output folder, project-relative (`gen`). */
  readonly out: string;
  /** The handlers folder, project-relative (`src`, from `proto.handlers`). */
  readonly handlersDir: string;
  /** `events.transport` of the config: the entries' default event transport. */
  readonly eventsTransport?: "postgres" | "nats" | undefined;
}

/** Whether a service produces or consumes events (its entry then passes its `<service>Events`). */
function hasEvents(service: ServiceModel): boolean {
  return service.consumer !== undefined || service.methods.some((m) => (m.emits ?? []).length > 0);
}

/** The file of one service's entry: `<out>/server/<stem>.ts`, next to `<out>/grpc/<stem>.ts`. */
export function serverEntryPath(service: ServiceModel, out: string): string {
  return `${out === "" ? "" : `${out}/`}server/${service.stem}.ts`;
}

/** The exported loader of one service's registration: `loadUserService`. */
export function serviceLoaderName(service: ServiceModel): string {
  return `load${service.name}`;
}

/** Words of `text` in lines of at most `width` characters (a longer word gets its own line). */
export function wrap(text: string, width = 92): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** What both kinds of entry start with: the preload, then what may load before it runs. */
function entryPrologue(f: FileBuilder): { entry: string; startOptions: string; handle: string } {
  f.runtimeSideEffect("telemetryRegister");
  return {
    entry: f.runtime("isMainModule"),
    startOptions: `Omit<${f.runtime("StartServerOptions")}, "services">`,
    handle: f.runtime("ServerHandle"),
  };
}

/** `start` and the main-module block, shared by both kinds of entry. */
function printStart(
  f: FileBuilder,
  names: { entry: string; startOptions: string; handle: string },
  what: string,
  services: (indent: string) => string[],
  eventsTransport: "postgres" | "nats" | undefined,
): void {
  const errors = f.import({ name: "errorMap", from: "../errors.js", typeOnly: false });
  const lazy = f.lazyImports();
  const startServer = lazy.runtime("startServer");
  f.print();
  f.jsDoc(
    wrap(
      `Starts ${what} with the runtime's interceptor chain, health, reflection, the HTTP side ` +
        "port (`/healthz`, `/readyz`, `/metrics`) and graceful shutdown; resolves once both " +
        "ports listen. Settings not given in `options` come from the environment " +
        "(`DATABASE_URL`, `HOST`, `PORT`, `HTTP_PORT`, `SHUTDOWN_GRACE_MS`, ...); tests set " +
        "`port` and `httpPort` to 0 in `settings` for free ports.",
    ),
  );
  f.print`export async function start(`;
  f.print`  options: ${names.startOptions} = {},`;
  f.print`): Promise<${names.handle}> {`;
  const body = services("  ");
  for (const line of lazy.render("  ")) f.print(line);
  for (const line of body) f.print(line);
  const errorMap = errors === "errorMap" ? errors : `errorMap: ${errors}`;
  // svcgen.yaml's events.transport; the environment (SVCGEN_EVENTS_TRANSPORT) still wins.
  const events =
    eventsTransport === undefined
      ? ""
      : `, events: { transport: ${JSON.stringify(eventsTransport)}, ...options.events }`;
  f.print`  return ${startServer}({ services, ${errorMap}, ...options${events} });`;
  f.print("}");
  f.print();
  f.print("// Run with node: start from the environment; SIGTERM/SIGINT shut down gracefully.");
  f.print`if (${names.entry}(import.meta.url)) {`;
  const main = f.lazyImports();
  const runMain = main.runtime("runMain");
  for (const line of main.render("  ")) f.print(line);
  f.print`  await ${runMain}(() => start());`;
  f.print("}");
}

/** `gen/server/<service>.ts`. */
function emitServiceEntry(
  service: ServiceModel,
  options: ServerEmitOptions,
): { path: string; content: string } {
  const path = serverEntryPath(service, options.out);
  const f = createFileBuilder(path, {
    preamble: [generatedHeader, `// source: ${service.protoFile} (${service.typeName})`],
  });
  const loader = serviceLoaderName(service);
  f.declare(loader);
  f.declare("start");
  const names = entryPrologue(f);
  const registered = f.runtime("RegisteredService");
  const cls = handlerClassName(service);
  const handlerModule = relativeModule(
    path,
    handlerFilePath(service, options.handlersDir).replace(/\.ts$/, ".js"),
  );
  const grpcModule = `../grpc/${service.stem}.js`;
  const serviceModule =
    service.module.kind === "package" ? service.module.specifier : `../${service.module.path}`;
  const lazy = f.lazyImports();
  const define = lazy.runtime("defineService");
  const svc = lazy.import(service.name, serviceModule);
  const policies = lazy.import(`${lowerFirst(service.name)}Policies`, grpcModule);
  const impl = lazy.import(cls, handlerModule);
  const events = hasEvents(service)
    ? lazy.import(`${lowerFirst(service.name)}Events`, grpcModule)
    : undefined;
  f.print();
  f.jsDoc(
    wrap(
      `${service.typeName} as the server registers it: its policies, and its handlers made by ` +
        `\`new ${cls}(pool)\` from ${handlerFilePath(service, options.handlersDir)}` +
        (events === undefined
          ? ""
          : ", and its events (the outbox relay for the topics it emits, its consumer group for those it consumes)") +
        ". Loaded with `import()`, so an entry's telemetry preload runs before grpc-js and pg load.",
    ),
  );
  f.print`export async function ${loader}(): Promise<${registered}> {`;
  for (const line of lazy.render("  ")) f.print(line);
  f.print`  return ${define}({`;
  f.print`    service: ${svc},`;
  f.print`    policies: ${policies},`;
  f.print`    handlers: (db) => new ${impl}(db),`;
  if (events !== undefined) f.print`    events: ${events},`;
  f.print("  });");
  f.print("}");
  printStart(
    f,
    names,
    service.typeName,
    (indent) => [`${indent}const services = [await ${loader}()];`],
    hasEvents(service) ? options.eventsTransport : undefined,
  );
  return f.finish();
}

/** `gen/server/all.ts`: every service of the Model in one process. */
function emitAllEntry(model: Model, options: ServerEmitOptions): { path: string; content: string } {
  const path = `${options.out === "" ? "" : `${options.out}/`}server/all.ts`;
  const f = createFileBuilder(path);
  f.declare("start");
  const names = entryPrologue(f);
  // The per-service entries load nothing heavy statically, so importing them here is safe.
  const loaders = model.services.map((s) =>
    f.import({ name: serviceLoaderName(s), from: `./${s.stem}.js`, typeOnly: false }),
  );
  const what =
    model.services.length === 1
      ? (model.services[0]?.typeName ?? "")
      : `every service of the project (${model.services.map((s) => s.name).join(", ")})`;
  printStart(
    f,
    names,
    what,
    (indent) => [
      `${indent}const services = await Promise.all([`,
      ...loaders.map((l) => `${indent}  ${l}(),`),
      `${indent}]);`,
    ],
    model.services.some(hasEvents) ? options.eventsTransport : undefined,
  );
  return f.finish();
}

/**
 * The entries of the Model's services: one per service and `all.ts`, sorted by path; none
 * when the Model has no services.
 */
export function emitServerEntries(
  model: Model,
  options: ServerEmitOptions,
): { path: string; content: string }[] {
  if (model.services.length === 0) return [];
  const files = model.services.map((s) => emitServiceEntry(s, options));
  files.push(emitAllEntry(model, options));
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
