/**
 * Contract evolution: `svcgen check --against <git ref or folder>` compares the project's
 * protos with an earlier version through `buf breaking` (offline, buf's default rules, the
 * FILE category) and reports every breaking change as a diagnostic (SVC306) at the line of
 * the current `.proto` file.
 *
 * Both sides are built as throw-away buf workspaces the way `svcgen generate` builds protos
 * (each proto root a module, svcgen's `options.proto` and `buf/validate` declarations
 * included), so imports resolve identically on both sides. A git ref's protos are exported
 * with `git ls-tree`/`git cat-file` into a temp folder (no work-tree change, no network).
 */
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ResolvedConfig } from "../config/config.js";
import { type Diagnostic, sortDiagnostics } from "../diagnostics.js";
import { projectPath } from "../project-paths.js";
import { listProtoFiles, mapBufPath, runBuf, writeBufWorkspace } from "./buf-build.js";
import { ProtoCodes } from "./proto-codes.js";

/** Options of {@link checkBreaking}. */
export interface CheckBreakingOptions {
  /**
   * Folder that a relative `against` folder is resolved against (the CLI passes its working
   * folder). Default: the project folder, `config.rootDir`.
   */
  readonly cwd?: string;
}

/** One line of `buf breaking --error-format json`. */
interface BufAnnotation {
  readonly path?: string;
  readonly start_line?: number;
  readonly start_column?: number;
  readonly type?: string;
  readonly message?: string;
}

/** A diagnostic about the comparison as a whole (not a breaking change). */
function failure(message: string, hint?: string): Diagnostic[] {
  return [
    {
      severity: "error",
      code: ProtoCodes.breaking,
      message,
      ...(hint === undefined ? {} : { hint }),
    },
  ];
}

/** Runs git in `cwd`; never rejects (a missing git binary is exit code -1). */
function git(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "git",
      [...args],
      { cwd, encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({
          code,
          stdout,
          stderr: code === -1 ? (error?.message ?? "") : stderr.toString("utf8").trim(),
        });
      },
    );
  });
}

/** Project-relative, forward-slash form of an absolute path. */
function projectRel(config: ResolvedConfig, abs: string): string {
  return projectPath(config.rootDir, abs) || ".";
}

/**
 * Exports the `.proto` files under `roots` as they are at `ref` into `dest` (same paths
 * relative to the repository top) and returns each root's folder there. Errors (not a git
 * repository, unknown ref, a root outside the repository) come back as diagnostics.
 */
async function exportRef(
  config: ResolvedConfig,
  ref: string,
  dest: string,
): Promise<{ roots: string[] } | { diagnostics: Diagnostic[] }> {
  const top = await git(["rev-parse", "--show-toplevel"], config.rootDir);
  if (top.code === -1) {
    return {
      diagnostics: failure(
        `cannot run git: ${top.stderr}`,
        "install git, or pass a folder to --against",
      ),
    };
  }
  if (top.code !== 0) {
    return {
      diagnostics: failure(
        `--against ${ref}: the project folder ${config.rootDir} is not in a git repository`,
        "pass a folder holding the earlier version of the project to --against, or run it in a git checkout",
      ),
    };
  }
  const topDir = await realpath(top.stdout.toString("utf8").trim());
  const commit = ref.startsWith("-")
    ? undefined
    : await git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], config.rootDir);
  if (commit === undefined || commit.code !== 0) {
    return {
      diagnostics: failure(
        `--against ${ref}: no such git commit, branch or tag`,
        "name a commit, branch or tag (main, HEAD~1, v1.2.0), or an existing folder",
      ),
    };
  }
  const sha = commit.stdout.toString("utf8").trim();
  const roots: string[] = [];
  for (const root of config.proto?.roots ?? []) {
    const real = existsSync(root) ? await realpath(root) : root;
    const rel = projectPath(topDir, real);
    if (rel.startsWith("..") || path.isAbsolute(rel)) {
      return {
        diagnostics: failure(
          `proto root ${projectRel(config, root)} is outside the git repository at ${topDir}`,
          "compare against a folder instead",
        ),
      };
    }
    const listing = await git(
      ["ls-tree", "-r", "-z", "--full-tree", sha, ...(rel === "" ? [] : ["--", rel])],
      config.rootDir,
    );
    if (listing.code !== 0) {
      return { diagnostics: failure(`git ls-tree ${ref} failed: ${listing.stderr}`) };
    }
    for (const entry of listing.stdout.toString("utf8").split("\0")) {
      // `<mode> <type> <object>\t<path>`; regular files only (no symlinks, no submodules).
      const m = /^(100644|100755) blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
      if (m === null || !m[3]?.endsWith(".proto")) continue;
      const blob = await git(["cat-file", "blob", m[2] ?? ""], config.rootDir);
      if (blob.code !== 0) {
        return {
          diagnostics: failure(`git cat-file failed for ${m[3]} at ${ref}: ${blob.stderr}`),
        };
      }
      const file = path.join(dest, ...m[3].split("/"));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, blob.stdout);
    }
    roots.push(path.join(dest, ...(rel === "" ? [] : rel.split("/"))));
  }
  return { roots };
}

/**
 * The earlier version's proto roots in a folder: each root at the same path relative to the
 * folder as it has relative to the project folder; when none exists and the project has one
 * root, the folder itself is that root.
 */
function folderRoots(config: ResolvedConfig, folder: string): string[] {
  const roots = (config.proto?.roots ?? []).map((r) =>
    path.join(folder, path.relative(config.rootDir, r)),
  );
  if (roots.some((r) => existsSync(r))) return roots;
  return roots.length === 1 ? [folder] : roots;
}

/** Parses buf breaking's JSON lines into diagnostics; `against` names the other side. */
function parseAnnotations(
  text: string,
  config: ResolvedConfig,
  roots: readonly string[],
  against: string,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    let a: BufAnnotation;
    try {
      a = JSON.parse(t) as BufAnnotation;
    } catch {
      continue;
    }
    if (a.message === undefined) continue;
    const compile = a.type === "COMPILE";
    const code = compile ? ProtoCodes.compile : ProtoCodes.breaking;
    const hint = compile ? undefined : `buf breaking rule ${a.type ?? "unknown"}`;
    const ours = a.path !== undefined && /^m\d+\//.test(a.path);
    if (a.path !== undefined && ours) {
      out.push({
        severity: "error",
        code,
        message: a.message,
        file: mapBufPath(a.path, roots, config.rootDir),
        line: a.start_line ?? 1,
        column: a.start_column ?? 1,
        ...(hint === undefined ? {} : { hint }),
      });
      continue;
    }
    // A deleted file has no current location; a compile error of the earlier version is
    // named by its path there.
    const where =
      a.path === undefined
        ? ""
        : `${against}: ${a.path.replace(/^.*?\/m\d+\//, "")}:${a.start_line ?? 1}:${a.start_column ?? 1}: `;
    out.push({
      severity: "error",
      code,
      message: `${where}${a.message}`,
      ...(hint === undefined ? {} : { hint }),
    });
  }
  return out;
}

/**
 * Reports the breaking changes of the project's protos against an earlier version, as
 * diagnostics: SVC306 per change found by `buf breaking` (default rules, FILE category), at
 * the current file (project-relative), line and column, with buf's message and its rule in the
 * hint; a deleted file has no location. `against` is an existing folder (absolute, or relative
 * to `opts.cwd`, default the project folder) holding the earlier version of the project (its
 * proto roots at the same relative paths, or, for a project with one root, that root itself),
 * else a git ref (`main`, `HEAD~1`, a tag or commit) of the repository holding the project.
 * Not a git repository, an unknown ref, no `proto:` section, protos that do not compile or a
 * buf failure give one clear diagnostic (SVC300 located, for a compile error of the current
 * protos). No breaking change: an empty list. Never throws for a user error.
 */
export async function checkBreaking(
  config: ResolvedConfig,
  against: string,
  opts: CheckBreakingOptions = {},
): Promise<Diagnostic[]> {
  if (config.proto === undefined) {
    return failure(
      "--against compares proto contracts, and svcgen.yaml has no proto: section",
      "add proto: (roots: [proto]) to svcgen.yaml",
    );
  }
  const current = config.proto.roots;
  const protoPaths: string[] = [];
  for (const root of current) {
    if (!existsSync(root)) {
      return failure(
        `Proto root ${projectRel(config, root)} does not exist`,
        "Fix proto.roots in svcgen.yaml",
      );
    }
    protoPaths.push(...(await listProtoFiles(root)));
  }
  const base = await mkdtemp(path.join(tmpdir(), "svcgen-breaking-"));
  try {
    const folder = path.resolve(opts.cwd ?? config.rootDir, against);
    let againstRoots: string[];
    if (existsSync(folder) && statSync(folder).isDirectory()) {
      againstRoots = folderRoots(config, folder);
    } else {
      const exported = await exportRef(config, against, path.join(base, "tree"));
      if ("diagnostics" in exported) return exported.diagnostics;
      againstRoots = exported.roots;
    }
    const earlier: string[] = [];
    const earlierPaths: string[] = [];
    for (const root of againstRoots) {
      if (!existsSync(root)) continue;
      const files = await listProtoFiles(root);
      if (files.length === 0) continue;
      earlier.push(root);
      earlierPaths.push(...files);
    }
    // No protos then: everything is new, and nothing can break.
    if (earlier.length === 0) return [];

    const work = path.join(base, "current");
    const previous = path.join(base, "against");
    await mkdir(work);
    await mkdir(previous);
    await writeBufWorkspace(work, current, protoPaths);
    await writeBufWorkspace(previous, earlier, earlierPaths);
    const result = await runBuf(
      ["breaking", ".", "--against", previous, "--error-format", "json"],
      work,
    );
    if (result.code === 0) return [];
    const found =
      result.code === 100
        ? parseAnnotations(
            `${result.stdout.toString("utf8")}\n${result.stderr}`,
            config,
            current,
            against,
          )
        : [];
    if (found.length > 0) return sortDiagnostics(found);
    const detail = result.stderr.trim().replace(/^Failure: /, "") || `exit code ${result.code}`;
    return failure(`buf breaking failed: ${detail}`);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
