/** Helpers for end-to-end CLI tests: a temp project on disk and the CLI run in-process. */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { main } from "../../cli/src/main.js";

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

/** Writes `files` (project-relative path -> content) into a new temp folder and returns it. */
export async function writeProject(
  prefix: string,
  files: Readonly<Record<string, string>>,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `svcgen-${prefix}-`));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}
