/**
 * Builds descriptors from a project's `.proto` files with the buf binary shipped in npm,
 * offline: the project's roots, svcgen's own `svcgen/v1/options.proto`, `buf/validate`'s
 * declarations and the well-known types. Compile errors become SVC3xx diagnostics.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Diagnostic } from "../diagnostics.js";
import { projectPath } from "../project-paths.js";
import { printFileDescriptor } from "./descriptor-printer.js";
import { ProtoCodes } from "./proto-codes.js";
import { listProtoFiles } from "./proto-files.js";

const require = createRequire(import.meta.url);

/** The result of a successful build. */
export interface ProtoBuild {
  /** Every file of the build, dependencies before dependents (buf's order), with source info. */
  readonly files: readonly FileDescriptorProto[];
  /** Proto paths (`acme/v1/user.proto`) of the project's own files, sorted. */
  readonly userFiles: readonly string[];
  /** Project-relative source path (forward slashes) of each of the project's proto paths. */
  readonly sourcePaths: ReadonlyMap<string, string>;
}

/** Where svcgen's own `.proto` files live: `proto/` at the package root. */
export function svcgenProtoDir(): string {
  // This file is cli/src/proto/*.ts in development and cli/dist/proto/*.js when built.
  return fileURLToPath(new URL("../../../proto/", import.meta.url));
}

/**
 * The path of the buf executable: the platform package's native binary when installed (one
 * process instead of node + buf), else `@bufbuild/buf`'s launcher script.
 */
export function bufCommand(): { readonly file: string; readonly args: readonly string[] } {
  const platform = `@bufbuild/buf-${process.platform === "win32" ? "win32" : process.platform}-${process.arch}`;
  try {
    const file = require.resolve(
      `${platform}/bin/buf${process.platform === "win32" ? ".exe" : ""}`,
    );
    return { file, args: [] };
  } catch {
    return { file: process.execPath, args: [require.resolve("@bufbuild/buf/bin/buf")] };
  }
}

/** Runs buf with `args` in `cwd`; resolves with exit code, stdout bytes and stderr text. */
export function runBuf(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const cmd = bufCommand();
  return new Promise((resolve, reject) => {
    execFile(
      cmd.file,
      [...cmd.args, ...args],
      {
        cwd,
        encoding: "buffer",
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, BUF_CACHE_DIR: path.join(tmpdir(), "svcgen-buf-cache") },
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          reject(error);
          return;
        }
        resolve({
          code: error === null ? 0 : Number(error.code),
          stdout,
          stderr: stderr.toString("utf8"),
        });
      },
    );
  });
}

/** Loads `buf/validate/validate.proto`'s descriptor embedded in `@bufbuild/protovalidate`. */
export async function loadValidateDescriptor(): Promise<FileDescriptorProto> {
  // The generated module is not exported by the package; locate it next to its entry point.
  const entry = require.resolve("@bufbuild/protovalidate");
  const cjsOrEsm = path.dirname(entry);
  const file = path.join(cjsOrEsm, "gen", "buf", "validate", "validate_pb.js");
  const mod: unknown = await import(new URL(`file://${file}`).href);
  const desc = (mod as { file_buf_validate_validate?: { proto: FileDescriptorProto } })
    .file_buf_validate_validate;
  if (desc === undefined) throw new Error(`No buf.validate descriptor in ${file}`);
  return desc.proto;
}

export { listProtoFiles };

/** One line of `buf build --error-format json`. */
interface BufError {
  readonly path?: string;
  readonly start_line?: number;
  readonly start_column?: number;
  readonly message?: string;
}

/** Converts a path as buf reports it (`m0/acme/v1/a.proto`) to the project-relative path. */
export function mapBufPath(bufPath: string, roots: readonly string[], rootDir: string): string {
  const m = /^m(\d+)\/(.*)$/.exec(bufPath);
  const root = m === null ? undefined : roots[Number(m[1])];
  if (m === null || root === undefined) return bufPath;
  return path
    .relative(rootDir, path.join(root, m[2] ?? ""))
    .split(path.sep)
    .join("/");
}

/**
 * Parses buf's stderr into diagnostics. JSON lines become located errors; anything else (a
 * failure before compiling) becomes one diagnostic without a location.
 */
export function parseBufErrors(
  stderr: string,
  roots: readonly string[],
  rootDir: string,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of stderr.split(/\r?\n/)) {
    const text = line.trim();
    if (text === "") continue;
    let parsed: BufError | undefined;
    if (text.startsWith("{")) {
      try {
        parsed = JSON.parse(text) as BufError;
      } catch {
        parsed = undefined;
      }
    }
    if (parsed?.path !== undefined && parsed.message !== undefined) {
      out.push({
        severity: "error",
        code: ProtoCodes.compile,
        message: parsed.message,
        file: mapBufPath(parsed.path, roots, rootDir),
        line: parsed.start_line ?? 1,
        column: parsed.start_column ?? 1,
      });
      continue;
    }
    out.push({
      severity: "error",
      code: ProtoCodes.compile,
      message: text.replace(/^Failure: /, "").replace(/\bm(\d+)\//g, (all, n: string) => {
        const root = roots[Number(n)];
        return root === undefined ? all : `${path.relative(rootDir, root) || "."}/`;
      }),
    });
  }
  return out;
}

/**
 * Writes a buf workspace into the existing folder `work`: each of `roots` (absolute folders)
 * linked in as module `m<i>`, plus an `include` module with svcgen's `svcgen/v1/options.proto`
 * and `buf/validate/validate.proto`, unless `protoPaths` (the roots' proto paths) ship their
 * own copy (two copies would not compile). The `buf.yaml` has no lint or breaking section,
 * so buf's defaults apply.
 */
export async function writeBufWorkspace(
  work: string,
  roots: readonly string[],
  protoPaths: readonly string[],
): Promise<void> {
  const modules: string[] = [];
  for (const [i, root] of roots.entries()) {
    await symlink(root, path.join(work, `m${i}`), "dir");
    modules.push(`m${i}`);
  }
  const include = path.join(work, "include");
  await mkdir(path.join(include, "buf", "validate"), { recursive: true });
  await writeFile(
    path.join(include, "buf", "validate", "validate.proto"),
    printFileDescriptor(await loadValidateDescriptor()),
  );
  await symlink(path.join(svcgenProtoDir(), "svcgen"), path.join(include, "svcgen"), "dir");
  const ownsSvcgen = protoPaths.some((p) => p.startsWith("svcgen/v1/"));
  const ownsValidate = protoPaths.some((p) => p.startsWith("buf/validate/"));
  // A project that ships its own copy of either wins; two copies would not compile.
  if (!ownsSvcgen || !ownsValidate) {
    if (ownsSvcgen) await rm(path.join(include, "svcgen"));
    if (ownsValidate) await rm(path.join(include, "buf"), { recursive: true });
    modules.push("include");
  }
  const yaml = ["version: v2", "modules:", ...modules.map((m) => `  - path: ${m}`), ""];
  await writeFile(path.join(work, "buf.yaml"), yaml.join("\n"));
}

/**
 * Builds every `.proto` file under `roots` (absolute folders, each a module root: import
 * paths are relative to it) into descriptors. `rootDir` is the project folder that
 * diagnostics name files relative to. Never throws for a user error: a failed build returns
 * `build: undefined` and its diagnostics.
 */
export async function buildProto(
  roots: readonly string[],
  rootDir: string,
): Promise<{ build: ProtoBuild | undefined; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const sourcePaths = new Map<string, string>();
  for (const root of roots) {
    if (!existsSync(root)) {
      diagnostics.push({
        severity: "error",
        code: ProtoCodes.compile,
        message: `Proto root ${path.relative(rootDir, root) || "."} does not exist`,
        hint: "Fix proto.roots in svcgen.yaml",
      });
      continue;
    }
    for (const rel of await listProtoFiles(root)) {
      const source = projectPath(rootDir, path.join(root, rel));
      if (sourcePaths.has(rel)) {
        diagnostics.push({
          severity: "error",
          code: ProtoCodes.compile,
          message: `${rel} is in two proto roots`,
          file: source,
          hint: "Each import path must name one file: remove one copy or change proto.roots",
        });
      }
      sourcePaths.set(rel, source);
    }
  }
  if (diagnostics.length > 0) return { build: undefined, diagnostics };
  if (sourcePaths.size === 0) {
    return { build: { files: [], userFiles: [], sourcePaths }, diagnostics: [] };
  }

  // A throw-away buf workspace: each root linked in as a module, plus svcgen's includes.
  const work = await mkdtemp(path.join(tmpdir(), "svcgen-buf-"));
  try {
    await writeBufWorkspace(work, roots, [...sourcePaths.keys()]);
    const result = await runBuf(
      ["build", ".", "--as-file-descriptor-set", "--error-format", "json", "-o", "-#format=binpb"],
      work,
    );
    if (result.code !== 0) {
      return { build: undefined, diagnostics: parseBufErrors(result.stderr, roots, rootDir) };
    }
    const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(result.stdout));
    const userFiles = set.file.map((f) => f.name).filter((n) => sourcePaths.has(n));
    return {
      build: { files: set.file, userFiles: userFiles.sort(), sourcePaths },
      diagnostics: [],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
