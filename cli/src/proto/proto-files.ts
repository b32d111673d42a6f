/**
 * Finding `.proto` files. A module of its own, free of the protobuf toolchain, so the
 * up-to-date check of `svcgen generate` can list protos without loading it.
 */
import { readdir } from "node:fs/promises";
import * as path from "node:path";

/** Lists `.proto` files under `dir`, as forward-slash paths relative to it, sorted. */
export async function listProtoFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  for (const e of entries) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listProtoFiles(dir, rel)));
    else if (e.name.endsWith(".proto")) out.push(rel);
  }
  return out.sort();
}
