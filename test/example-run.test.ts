/**
 * `npm run example` as a user runs it: a child process with `DATABASE_URL` unset (so it starts
 * its embedded PostgreSQL), until the tour's success line; then one call through
 * `npm run example:call` (and one that fails, with its field violations); then a Ctrl-C (SIGINT
 * to the whole process group, as a terminal sends it): exit 0, and nothing left running (the
 * services, the database process, its postgres server and its data folder).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let work: string;
let example: ChildProcess | undefined;
let exited: Promise<number | null>;
let output = "";
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    SVCGEN_EXAMPLE_STATE: join(work, "state.json"),
    ...extra,
  };
  delete e.DATABASE_URL;
  return e;
};

/** Starts `npm run example` in a process group of its own, collecting its output. */
function startExample(extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  output = "";
  const child = spawn(npm, ["run", "example"], {
    cwd: root,
    env: env(extraEnv),
    detached: true, // a process group of its own, like a terminal's foreground job
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => {
    output += String(d);
  });
  child.stderr?.on("data", (d) => {
    output += String(d);
  });
  exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  example = child;
  return child;
}

/** Every process below `pid` (children, grandchildren, ...), from /proc. */
async function descendants(pid: number): Promise<{ pid: number; cmd: string }[]> {
  const parents = new Map<number, number[]>();
  const cmds = new Map<number, string>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces: the ppid follows the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
      cmds.set(
        Number(entry),
        (await readFile(`/proc/${entry}/cmdline`, "utf8")).replace(/\0/g, " "),
      );
    } catch {
      // the process ended meanwhile
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number): void => {
    for (const c of parents.get(p) ?? []) {
      out.push({ pid: c, cmd: cmds.get(c) ?? "" });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the example's output contains `text`; rejects when it exits first. */
function waitForOutput(text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = setInterval(() => {
      if (output.includes(text)) {
        clearInterval(check);
        resolve();
      } else if (example?.exitCode !== null || Date.now() > deadline) {
        clearInterval(check);
        reject(new Error(`no "${text}" in the example's output:\n${output}`));
      }
    }, 100);
    const deadline = Date.now() + timeoutMs;
  });
}

async function exampleCall(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(npm, ["run", "-s", "example:call", "--", ...args], {
      cwd: root,
      env: env(),
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "svcgen-example-run-"));
});

afterAll(async () => {
  // A failed test must not leave the example running.
  if (example?.pid !== undefined && example.exitCode === null) {
    for (const p of await descendants(example.pid)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    process.kill(-example.pid, "SIGKILL");
  }
  await rm(work, { recursive: true, force: true });
});

describe("npm run example", () => {
  test("starts five services, passes the tour, answers example:call, stops cleanly on Ctrl-C", async () => {
    startExample();
    await waitForOutput("example: tour passed", 150_000);
    // One line per service with both addresses.
    for (const s of ["auth", "data", "file", "notification", "user"]) {
      expect(output).toMatch(
        new RegExp(
          `${s}-service +grpc 127\\.0\\.0\\.1:\\d+ +http http://127\\.0\\.0\\.1:\\d+/readyz`,
        ),
      );
    }
    const state = JSON.parse(await readFile(join(work, "state.json"), "utf8")) as {
      users: { alice: string };
    };

    const me = await exampleCall(["user", "GetMyProfile", "{}"]);
    expect(me.stderr).toBe("");
    expect(me.code).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ userId: state.users.alice, handle: "alice" });

    const bad = await exampleCall([
      "user",
      "CreateProfile",
      '{"handle": "No Caps", "displayName": "x", "locale": "en"}',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^INVALID_ARGUMENT: /);
    expect(bad.stderr).toContain("field handle: ");

    const typo = await exampleCall(["user", "GetMyProfil"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('Did you mean "GetMyProfile"?');

    // What must be gone afterwards: every process below npm, and the database's data folder.
    const pid = example?.pid ?? 0;
    const below = await descendants(pid);
    const names = below.map((p) => p.cmd).join("\n");
    expect(names).toContain("database-process.js");
    expect(names).toMatch(/bin\/postgres -D/);
    expect(below.filter((p) => p.cmd.includes("dist/gen/server/")).length).toBe(5);
    const dataDir = /postgres -D (\S+)/.exec(names)?.[1] ?? "";
    expect(existsSync(dataDir)).toBe(true);

    process.kill(-pid, "SIGINT"); // Ctrl-C: the terminal signals the foreground process group
    expect(await exited).toBe(0);
    expect(output).toContain("example: stopped (clean)");
    expect(below.filter((p) => alive(p.pid)).map((p) => p.cmd)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(join(work, "state.json"))).toBe(false);
  }, 240_000);

  test("a step that fails (services refusing a bad setting) stops everything and exits 1", async () => {
    // Every service exits 1 at start on a bad GRPC_MAX_MESSAGE_BYTES, after the database started.
    const child = startExample({ GRPC_MAX_MESSAGE_BYTES: "lots" });
    let below: { pid: number; cmd: string }[] = [];
    await waitForOutput("example: starting the services", 150_000);
    below = await descendants(child.pid ?? 0);
    expect(await exited).toBe(1);
    expect(output).toContain("GRPC_MAX_MESSAGE_BYTES");
    expect(output).toContain("example: stopped (with errors)");
    expect(below.map((p) => p.cmd).join("\n")).toMatch(/bin\/postgres -D/);
    expect(below.filter((p) => alive(p.pid)).map((p) => p.cmd)).toEqual([]);
  }, 240_000);
});
