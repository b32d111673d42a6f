/**
 * Emits protobuf-es v2 message code (`*_pb.ts`) by running protoc-gen-es's plugin object
 * in-process on a `CodeGeneratorRequest` built from buf's descriptors: no protoc and no child
 * process. The buf plugin (`protoc-gen-svcgen`) calls the same function, so both paths give
 * the same bytes.
 */
import { create } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { protocGenEs } from "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js";
import type { GeneratedFile } from "../inputs.js";

/** The one parameter svcgen runs protoc-gen-es with; part of the generated header. */
export const protocGenEsParameter = "target=ts,import_extension=js";

/**
 * The files whose messages are emitted: the given files plus every non-well-known file they
 * import (transitively), since generated code imports its dependencies' `_pb.js` modules.
 * Well-known types come from `@bufbuild/protobuf/wkt` and are never emitted. Order follows
 * `files` (dependencies first).
 */
export function filesToEmit(
  files: readonly FileDescriptorProto[],
  roots: readonly string[],
): string[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const wanted = new Set<string>();
  const visit = (name: string): void => {
    if (wanted.has(name) || name.startsWith("google/protobuf/")) return;
    const f = byName.get(name);
    if (f === undefined) return;
    wanted.add(name);
    for (const dep of f.dependency) visit(dep);
  };
  for (const r of roots) visit(r);
  return files.map((f) => f.name).filter((n) => wanted.has(n));
}

/**
 * Runs protoc-gen-es on `files` (every file of the build, dependencies first), generating
 * `toGenerate`. Returns files named `<outDir>/<proto path without .proto>_pb.ts`, with
 * `outDir` a project-relative folder (`gen/proto`), in protoc-gen-es's order.
 */
export function emitProtoMessages(
  files: readonly FileDescriptorProto[],
  toGenerate: readonly string[],
  outDir: string,
): GeneratedFile[] {
  if (toGenerate.length === 0) return [];
  const request = create(CodeGeneratorRequestSchema, {
    fileToGenerate: [...toGenerate],
    parameter: protocGenEsParameter,
    protoFile: [...files],
  });
  const response = protocGenEs.run(request);
  if (response.error !== undefined && response.error !== "") {
    // protoc-gen-es only fails on descriptors buf already accepted if it has a bug.
    throw new Error(`protoc-gen-es failed: ${response.error}`);
  }
  return response.file.map((f) => ({
    path: outDir === "" ? f.name : `${outDir}/${f.name}`,
    content: f.content,
  }));
}
