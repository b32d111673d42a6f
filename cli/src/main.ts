/**
 * The `svcgen` command line. The one place that prints and picks exit codes:
 * 0 success, 1 a problem in the user's inputs (every diagnostic printed), 2 usage or
 * configuration error. Never a stack trace for a user error.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { type CheckFormat, checkFormats, renderDiagnostics } from "./check/check-output.js";
import { runGenerate } from "./commands/generate-command.js";
import type { ResolvedConfig } from "./config/config.js";
import { findConfig, loadConfig } from "./config/load-config.js";
import { type Diagnostic, hasErrors } from "./diagnostics.js";
import { toPublicModel } from "./model.js";
import { version } from "./version.js";

// Commands other than generate are loaded when run: an up-to-date `svcgen generate` should
// not pay for loading the parser, pg, chokidar or the proto toolchain.

export { version };

/** Exit codes. */
export const ExitCode = { ok: 0, inputError: 1, usage: 2 } as const;

/** Where output goes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Thrown inside a command to stop with an exit code after printing. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function printDiagnostics(
  io: Io,
  list: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
): void {
  io.err(renderDiagnostics(list, "human", sources).err);
}

/**
 * `sources` plus the text of every other file a diagnostic points into (the .proto files of
 * the proto stage, the config), read from the project folder, so every diagnostic with a
 * place gets its source frame. A file that cannot be read keeps the one-line form.
 */
async function withSourceTexts(
  list: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
  rootDir: string,
): Promise<ReadonlyMap<string, string>> {
  const all = new Map(sources);
  for (const d of list) {
    if (d.file === undefined || d.line === undefined || all.has(d.file)) continue;
    const text = await readFile(resolve(rootDir, d.file), "utf8").catch(() => undefined);
    if (text !== undefined) all.set(d.file, text);
  }
  return all;
}

async function configFor(io: Io, configOpt: string | undefined): Promise<ResolvedConfig> {
  const path = configOpt !== undefined ? resolve(io.cwd, configOpt) : await findConfig(io.cwd);
  if (path === undefined) {
    io.err(
      "error SVC100: no svcgen.yaml in this folder\n  hint: run `svcgen init` to create one, or pass -c <file>\n",
    );
    throw new Exit(ExitCode.usage);
  }
  const r = await loadConfig(path, io.env);
  if (r.config === undefined || hasErrors(r.diagnostics)) {
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch {
      text = undefined;
    }
    const rel = r.diagnostics[0]?.file;
    printDiagnostics(
      io,
      r.diagnostics,
      new Map(rel !== undefined && text !== undefined ? [[rel, text]] : []),
    );
    throw new Exit(ExitCode.usage);
  }
  printDiagnostics(io, r.diagnostics, new Map());
  return r.config;
}

function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name("svcgen")
    .description(
      "Typed TypeScript and gRPC services from SQL and proto, checked against PostgreSQL",
    )
    .version(version)
    .option("-c, --config <file>", "config file (default: svcgen.yaml in the current folder)")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command("generate")
    .description("analyse every query and write all generated code")
    .option("--check", "write nothing; exit 1 listing the files that would change")
    .option("--no-cache", "analyse every query again, ignoring the analysis cache")
    .action(async (opts: { check?: boolean; cache: boolean }) => {
      const started = performance.now();
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const r = await runGenerate(config, {
        check: opts.check === true,
        cache: opts.cache,
        onProgress: (m) => io.err(`${m}\n`),
      });
      printDiagnostics(
        io,
        r.diagnostics,
        await withSourceTexts(r.diagnostics, r.sources, config.rootDir),
      );
      if (r.report === undefined) {
        setExit(ExitCode.inputError);
        return;
      }
      const ms = Math.round(performance.now() - started);
      const changed = [...r.report.written, ...r.report.deleted];
      if (opts.check === true) {
        if (changed.length > 0) {
          for (const f of r.report.written) io.err(`would write ${f}\n`);
          for (const f of r.report.deleted) io.err(`would delete ${f}\n`);
          io.err(`${changed.length} generated file(s) out of date; run \`svcgen generate\`\n`);
          setExit(ExitCode.inputError);
          return;
        }
        io.out(`generated code is up to date (${r.analysed + r.cached} queries, ${ms} ms)\n`);
        return;
      }
      io.out(
        `${r.analysed + r.cached} queries (${r.analysed} analysed, ${r.cached} cached): ` +
          `${r.report.written.length} written, ${r.report.deleted.length} deleted, ` +
          `${r.report.unchanged} unchanged in ${ms} ms\n`,
      );
    });

  program
    .command("analyze")
    .alias("analyse")
    .description("print the analysed model of every query")
    .option("--json", "print JSON (the public contract; see README)")
    .option("--no-cache", "analyse every query again, ignoring the analysis cache")
    .action(async (opts: { json?: boolean; cache: boolean }) => {
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const { analyseProject } = await import("./project.js");
      const r = await analyseProject(config, { cache: opts.cache });
      printDiagnostics(
        io,
        r.diagnostics,
        await withSourceTexts(r.diagnostics, r.sources, config.rootDir),
      );
      if (hasErrors(r.diagnostics)) {
        setExit(ExitCode.inputError);
        return;
      }
      const pub = toPublicModel(r.model);
      if (opts.json === true) {
        io.out(`${JSON.stringify(pub, null, 2)}\n`);
        return;
      }
      for (const q of pub.queries) {
        io.out(`${q.file}:${q.line} ${q.name} :${q.command}\n`);
        for (const p of q.params) {
          io.out(`  $ ${p.name}: ${p.pgType} -> ${p.tsType}${p.nullable ? " | null" : ""}\n`);
        }
        for (const c of q.columns) {
          io.out(`  . ${c.name}: ${c.pgType} -> ${c.tsType}${c.nullable ? " | null" : ""}\n`);
        }
      }
    });

  program
    .command("check")
    .description(
      "check the committed generated code against a live database: queries, schema and files",
    )
    .option("--database-url <url>", "the live database (default: database.url, DATABASE_URL)")
    .option("--format <format>", `output format: ${checkFormats.join(", ")}`, "human")
    .option("--no-generated", "skip checking that generated files are up to date")
    .option("--no-schema", "skip comparing the live schema with the migrations")
    .option(
      "--against <ref-or-folder>",
      "instead: report breaking proto changes against a git ref or an earlier copy (buf breaking)",
    )
    .action(
      async (opts: {
        databaseUrl?: string;
        format: string;
        generated: boolean;
        schema: boolean;
        against?: string;
      }) => {
        const format = checkFormats.find((f) => f === opts.format);
        if (format === undefined) {
          io.err(`error: --format must be one of ${checkFormats.join(", ")}, not ${opts.format}\n`);
          throw new Exit(ExitCode.usage);
        }
        const started = performance.now();
        const config = await configFor(io, program.opts<{ config?: string }>().config);
        if (opts.against !== undefined) {
          // Contract evolution: proto changes only, no database involved.
          const { checkBreaking } = await import("./proto/breaking.js");
          const found = await checkBreaking(config, opts.against, { cwd: io.cwd });
          const sources = new Map<string, string>();
          for (const d of found) {
            if (d.file === undefined || sources.has(d.file)) continue;
            try {
              sources.set(d.file, await readFile(resolve(config.rootDir, d.file), "utf8"));
            } catch {
              // a deleted file has no source to show
            }
          }
          const rendered = renderDiagnostics(found, format as CheckFormat, sources);
          io.out(rendered.out);
          io.err(rendered.err);
          if (hasErrors(found)) {
            setExit(ExitCode.inputError);
            return;
          }
          if (format === "human") io.out(`no breaking proto changes against ${opts.against}\n`);
          return;
        }
        const { runCheck } = await import("./commands/check-command.js");
        const r = await runCheck(config, {
          ...(opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : {}),
          generated: opts.generated,
          schema: opts.schema,
          onProgress: (m) => {
            if (format === "human") io.err(`${m}\n`);
          },
        });
        const rendered = renderDiagnostics(
          r.diagnostics,
          format as CheckFormat,
          await withSourceTexts(r.diagnostics, r.sources, config.rootDir),
        );
        io.out(rendered.out);
        io.err(rendered.err);
        if (r.status === "failed") {
          setExit(ExitCode.usage);
          return;
        }
        if (r.status === "drift") {
          setExit(ExitCode.inputError);
          return;
        }
        if (format === "human") {
          const ms = Math.round(performance.now() - started);
          io.out(`no drift: ${r.queries} queries checked against ${r.database} in ${ms} ms\n`);
        }
      },
    );

  program
    .command("watch")
    .description("regenerate on every change to SQL, proto or config; Ctrl-C to stop")
    .option("--debounce <ms>", "quiet time after a change before regenerating", "20")
    .action(async (opts: { debounce: string }) => {
      const debounceMs = Number.parseInt(opts.debounce, 10);
      if (!Number.isFinite(debounceMs) || debounceMs < 0) {
        io.err(`error: --debounce must be a number of milliseconds, not ${opts.debounce}\n`);
        throw new Exit(ExitCode.usage);
      }
      // A config that does not load at the start is a usage error, as for every command;
      // later config errors are reported and the watcher waits for a fix.
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      io.out(`svcgen watch: watching ${config.configPath} (Ctrl-C to stop)\n`);
      try {
        const { runWatch } = await import("./commands/watch-command.js");
        await runWatch({
          configPath: config.configPath,
          env: io.env,
          log: (line) => io.out(`${line}\n`),
          report: (text) => io.err(text),
          signal: stop.signal,
          debounceMs,
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      io.out("svcgen watch: stopped\n");
    });

  const templates = program
    .command("templates")
    .description("the built-in text templates a project can override (templates: in svcgen.yaml)");
  templates
    .command("list")
    .description("list the built-in templates, marking those the project overrides")
    .action(async () => {
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const { builtinTemplates } = await import("./templates/template-registry.js");
      const overridden = new Set(config.templates?.overrides.map((o) => o.name) ?? []);
      for (const t of builtinTemplates) {
        const mark = overridden.has(t.name) ? " (overridden)" : "";
        io.out(`${t.name}${mark}  ${t.description}\n`);
      }
    });
  templates
    .command("eject [name]")
    .description("copy the built-in templates (or one) into the project's templates folder")
    .option("--force", "overwrite files that already exist there")
    .action(async (name: string | undefined, opts: { force?: boolean }) => {
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const { ejectTemplates } = await import("./commands/templates-command.js");
      const r = await ejectTemplates(config, name, opts.force === true);
      if (r.kind === "unknown-name") {
        io.err(`error SVC103: ${r.message}\n  hint: ${r.hint}\n`);
        throw new Exit(ExitCode.usage);
      }
      if (r.kind === "exists") {
        for (const p of r.paths) io.err(`error SVC103: ${p} already exists; not overwritten\n`);
        io.err("  hint: pass --force to replace it with the built-in template\n");
        setExit(ExitCode.inputError);
        return;
      }
      for (const f of r.written) io.out(`wrote ${f}\n`);
      if (!r.configured) {
        io.out(`add \`templates: ${r.dir}\` to svcgen.yaml so that generate uses them\n`);
      }
    });

  program
    .command("init")
    .description("scaffold svcgen.yaml, folders, an example migration and queries")
    .option(
      "--from-sqlc [file]",
      "instead: write svcgen.yaml from a sqlc config (default: sqlc.yaml, sqlc.yml or sqlc.json)",
    )
    .action(async (opts: { fromSqlc?: string | boolean }) => {
      if (opts.fromSqlc !== undefined && opts.fromSqlc !== false) {
        const { runInitFromSqlc } = await import("./commands/sqlc-config-importer.js");
        const file = typeof opts.fromSqlc === "string" ? opts.fromSqlc : undefined;
        const r = await runInitFromSqlc(io.cwd, file);
        const sources = new Map<string, string>();
        for (const d of r.diagnostics) {
          if (d.file === undefined || sources.has(d.file)) continue;
          const text = await readFile(resolve(io.cwd, d.file), "utf8").catch(() => undefined);
          if (text !== undefined) sources.set(d.file, text);
        }
        printDiagnostics(io, r.diagnostics, sources);
        if (hasErrors(r.diagnostics)) {
          setExit(ExitCode.inputError);
          return;
        }
        for (const f of r.created) io.out(`created ${f}\n`);
        return;
      }
      const { runInit } = await import("./commands/init-command.js");
      const r = await runInit(io.cwd);
      printDiagnostics(io, r.diagnostics, new Map());
      if (hasErrors(r.diagnostics)) {
        setExit(ExitCode.inputError);
        return;
      }
      for (const f of r.created) io.out(`created ${f}\n`);
      for (const f of r.updated) io.out(`updated ${f}\n`);
      io.out("next: npm install, npx svcgen generate, npm run build, npm start\n");
    });

  program
    .command("load <method>")
    .description("gRPC load on a running service: throughput, statuses, latency percentiles")
    .option("-d, --data <json>", "request as JSON; {{seq}}, {{uuid}}, {{name}} from --values", "{}")
    .option("--values <file>", "rows for {{name}} placeholders: a JSON array or JSON lines")
    .option("--concurrency <n>", "calls in flight at once", "10")
    .option("--per-channel <n>", "in-flight calls per channel (connection)", "10")
    .option("--duration <seconds>", "how long to run (default 10 unless --calls is given)")
    .option("--calls <n>", "stop after this many calls")
    .option("--rps <n>", "at most this many calls started per second")
    .option("--timeout <ms>", "deadline of each call", "10000")
    .option("--warmup <seconds>", "run this long first without counting the calls")
    .option(
      "--stream-count <n>",
      "messages each client-streaming or bidi call sends (default 10; {{seq}} counts messages)",
    )
    .option("--target <host:port>", "the service", "127.0.0.1:50051")
    .option("--token <jwt>", "send authorization: Bearer <jwt>")
    .option("-H, --header <name: value>", "send this metadata (repeatable)", collect, [])
    .option("--json", "print the report as JSON")
    .action(async (name: string, opts: import("./commands/load-command.js").LoadCommandOptions) => {
      const config = await configFor(io, program.opts<{ config?: string }>().config);
      const { LoadUsageError, runLoadCommand } = await import("./commands/load-command.js");
      try {
        io.out((await runLoadCommand(config, name, opts, io.cwd)).text);
      } catch (e) {
        if (!(e instanceof LoadUsageError)) throw e;
        io.err(`error: ${e.message}\n${e.hint === undefined ? "" : `  hint: ${e.hint}\n`}`);
        throw new Exit(ExitCode.usage);
      }
    });

  return program;
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    // Not a user error: a bug. Say so plainly, with the stack, and fail.
    io.err(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    return ExitCode.usage;
  }
  return code;
}
