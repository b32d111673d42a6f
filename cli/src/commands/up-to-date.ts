/**
 * The fast path of `generate`: when the project's inputs hash to what the last successful run
 * recorded and every file it wrote is still on disk unchanged, nothing needs parsing,
 * analysing or emitting. Recorded in `<cache>/generate.json`.
 */
import { createHash } from "node:crypto";
import { access, mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { analysisVersion } from "../analyse/analysis-cache.js";
import type { ResolvedConfig } from "../config/config.js";
import type { GeneratedFile } from "../inputs.js";
import { listProtoFiles } from "../proto/proto-files.js";

interface Record {
  readonly inputs: string;
  /** Output path (project-relative) -> sha256 of its content. */
  readonly files: { readonly [path: string]: string };
  /** User-owned files (handler skeletons) that must still exist; their content is the user's. */
  readonly present?: readonly string[];
}

const sha = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");

/** The `.proto` files under a root, absolute; none when the root cannot be read. */
async function protoFiles(root: string): Promise<string[]> {
  try {
    return (await listProtoFiles(root)).map((rel) => join(root, rel));
  } catch {
    return [];
  }
}

let buildId: Promise<string> | undefined;

/**
 * An identity of svcgen's own build: sizes and modification times of its compiled files and
 * templates. A rebuilt svcgen (a new release, or a developer's change) regenerates even when
 * the version string is the same.
 */
function svcgenBuildId(): Promise<string> {
  buildId ??= (async () => {
    const h = createHash("sha256");
    // This file is cli/dist/commands/up-to-date.js (or cli/src/... under a test runner).
    const cliDir = dirname(dirname(fileURLToPath(import.meta.url)));
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.(js|hbs|proto)$/.test(e.name)) {
          const st = await stat(p);
          h.update(`${p}\0${st.size}\0${st.mtimeMs}\0`);
        }
      }
    };
    await walk(cliDir);
    await walk(join(dirname(dirname(cliDir)), "templates"));
    return h.digest("hex");
  })();
  return buildId;
}

/**
 * Hash of everything generation depends on: svcgen's analysis version, the config file, every
 * migration, query, proto and template override file (path and content), and the environment's database settings
 * that change what is analysed. Unreadable files hash as missing (the full run reports them).
 */
export async function inputsHash(config: ResolvedConfig, svcgenVersion: string): Promise<string> {
  const h = createHash("sha256");
  h.update(`${analysisVersion}\0${svcgenVersion}\0${await svcgenBuildId()}\0`);
  h.update(`${config.database.useLiveSchema}\0`);
  const files = [
    config.configPath,
    ...config.schemaFiles,
    ...config.queryFiles,
    ...(config.proto === undefined
      ? []
      : (await Promise.all(config.proto.roots.map(protoFiles))).flat()),
    ...(config.templates?.overrides.map((o) => o.path) ?? []),
  ];
  for (const f of files) {
    h.update(`\0${f}\0`);
    try {
      h.update(await readFile(f));
    } catch {
      h.update("\0missing");
    }
  }
  return h.digest("hex");
}

function recordPath(config: ResolvedConfig): string {
  return join(config.cacheDir, "generate.json");
}

/**
 * The paths of the recorded outputs when the project is up to date: same inputs hash and
 * every recorded file unchanged on disk. Undefined when a full run is needed.
 */
export async function upToDate(
  config: ResolvedConfig,
  hash: string,
): Promise<readonly string[] | undefined> {
  let rec: Record;
  try {
    rec = JSON.parse(await readFile(recordPath(config), "utf8")) as Record;
  } catch {
    return undefined;
  }
  if (rec.inputs !== hash) return undefined;
  for (const [path, want] of Object.entries(rec.files)) {
    try {
      if (sha(await readFile(join(config.rootDir, path))) !== want) return undefined;
    } catch {
      return undefined;
    }
  }
  for (const path of rec.present ?? []) {
    try {
      await access(join(config.rootDir, path));
    } catch {
      return undefined;
    }
  }
  return Object.keys(rec.files);
}

/** Records a successful run's inputs hash and outputs. Failures to write are ignored. */
export async function recordRun(
  config: ResolvedConfig,
  hash: string,
  files: readonly GeneratedFile[],
  present: readonly string[] = [],
): Promise<void> {
  const rec: Record = {
    inputs: hash,
    files: Object.fromEntries(files.map((f) => [f.path, sha(f.content)])),
    present: [...present].sort(),
  };
  try {
    await mkdir(config.cacheDir, { recursive: true });
    const tmp = `${recordPath(config)}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(rec));
    await rename(tmp, recordPath(config));
  } catch {
    // the record only saves time next run
  }
}
