/**
 * Helpers for end-to-end CLI tests: a temp project on disk, the CLI run in-process, and a
 * project generated inside the repository whose generated server and client the test loads.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { main } from "../../cli/src/main.js";

/** The repository root. */
const repoRoot = join(import.meta.dirname, "..", "..");

/** The result of one CLI run. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `svcgen <args>` in `cwd` with `env`, capturing its output. */
export async function runCli(
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CliRun> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd,
    env,
  });
  return { code, out, err };
}

/**
 * Writes `files` (project-relative path -> content) into a new temp folder under `parent`
 * (the system's temp folder unless given) and returns it.
 */
export async function writeProject(
  prefix: string,
  files: Readonly<Record<string, string>>,
  parent: string = tmpdir(),
): Promise<string> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, `svcgen-${prefix}-`));
  await writeFiles(dir, files);
  return dir;
}

/** Writes `files` (path relative to `dir` -> content), creating their folders. */
async function writeFiles(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** The inputs of a project with one migration, one query file and one proto package. */
export interface PackageParts {
  readonly migration: string;
  readonly queries: string;
  readonly proto: string;
  /** The `errors.domain` of svcgen.yaml, when the project sets one. */
  readonly errorsDomain?: string;
}

/**
 * The files of a project of one package `name`: `migrations/001_<name>.sql`,
 * `queries/<name>.sql`, `proto/<name>/v1/<name>.proto`, and the `svcgen.yaml` that names
 * those folders.
 */
export function packageFiles(name: string, parts: PackageParts): Record<string, string> {
  const errors =
    parts.errorsDomain === undefined ? "" : `errors:\n  domain: ${parts.errorsDomain}\n`;
  return {
    "svcgen.yaml": `version: 1\nschema: migrations\nqueries: queries\nproto:\n  roots: [proto]\n${errors}`,
    [`migrations/001_${name}.sql`]: parts.migration,
    [`queries/${name}.sql`]: parts.queries,
    [`proto/${name}/v1/${name}.proto`]: parts.proto,
  };
}

/** A generated service's entry started by a test: what every test reads of it. */
export interface StartedEntry {
  readonly grpcAddress: string;
  close(): Promise<void>;
}

/** A project `svcgen generate` produced for a test; `remove()` deletes its folder. */
export interface GeneratedProject {
  readonly dir: string;
  /**
   * Starts `gen/server/<stem>.ts` on loopback ports with `DATABASE_URL` and a silent logger,
   * and connects its generated client (`create<Stem>Client` of `gen/grpc/<stem>.ts`).
   */
  serve<C, H extends StartedEntry = StartedEntry>(
    stem: string,
    databaseUrl: string,
  ): Promise<{ readonly handle: H; readonly client: C }>;
  remove(): Promise<void>;
}

/** What to put in a project before generating it. */
export interface ProjectInputs {
  /** Folders copied in first: project-relative path -> source folder. */
  readonly copies?: Readonly<Record<string, string>>;
  /** Files written next: project-relative path -> content. */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * Writes a project into a new folder under `test/.tmp` (inside the repository, so the
 * generated code resolves @svcgen/runtime and its peers) and runs `svcgen generate --no-cache`
 * against `databaseUrl`. Throws with the CLI's output, and leaves nothing behind, when the
 * generation fails or reports any error or warning.
 */
export async function generateProject(
  prefix: string,
  inputs: ProjectInputs,
  databaseUrl: string,
): Promise<GeneratedProject> {
  const dir = await writeProject(prefix, {}, join(repoRoot, "test", ".tmp"));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    for (const [path, from] of Object.entries(inputs.copies ?? {}))
      await cp(from, join(dir, path), { recursive: true });
    await writeFiles(dir, inputs.files);
    const run = await runCli(dir, ["generate", "--no-cache"], { DATABASE_URL: databaseUrl });
    if (run.code !== 0 || /error|warning/.test(run.err))
      throw new Error(`svcgen generate exited with ${run.code}:\n${run.err}${run.out}`);
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    dir,
    async serve<C, H extends StartedEntry = StartedEntry>(stem: string, databaseUrl: string) {
      const grpc = (await import(join(dir, "gen", "grpc", `${stem}.ts`))) as Record<
        string,
        ((address: string) => C) | undefined
      >;
      const pascal = stem.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());
      const connect = grpc[`create${pascal}Client`];
      if (connect === undefined)
        throw new Error(`gen/grpc/${stem}.ts has no create${pascal}Client`);
      const entry = (await import(join(dir, "gen", "server", `${stem}.ts`))) as {
        start(o: object): Promise<H>;
      };
      const handle = await entry.start({
        env: { DATABASE_URL: databaseUrl },
        settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
        logger: { info() {}, warn() {}, error() {} },
      });
      return { handle, client: connect(handle.grpcAddress) };
    },
    remove,
  };
}
