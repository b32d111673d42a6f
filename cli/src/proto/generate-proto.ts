/**
 * The proto stage of `svcgen generate`: build the project's protos with buf, emit protobuf-es
 * messages, bind RPCs to queries, emit gRPC service code, and create or extend the handler
 * skeletons. A pure function of its inputs apart from running buf and reading the existing
 * handler files (both injectable).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ResolvedConfig } from "../config/config.js";
import type { Diagnostic } from "../diagnostics.js";
import {
  createHandlerFile,
  handlerFilePath,
  mergeHandlerFile,
} from "../emit/grpc-handlers-emitter.js";
import { defaultQueryModule, emitGrpcService, serviceStem } from "../emit/grpc-service-emitter.js";
import { emitProtoMessages, filesToEmit } from "../emit/proto-messages-emitter.js";
import { queryModulePaths } from "../emit/query-module-emitter.js";
import type { GeneratedFile } from "../inputs.js";
import type { Model } from "../model.js";
import { buildProto } from "./buf-build.js";
import { ProtoCodes } from "./proto-codes.js";
import { bindServices } from "./rpc-binder.js";
import { createLocator } from "./source-locations.js";

/** A handler skeleton to write: new, or an existing user file with stubs appended. */
export interface HandlerFile extends GeneratedFile {
  /** True when the file does not exist yet; false when it is the user's file, extended. */
  readonly created: boolean;
}

/** Options of {@link generateProto}. */
export interface GenerateProtoOptions {
  /**
   * Reads an existing handler file (project-relative path); undefined when it does not exist.
   * Default: reads from disk under `config.rootDir`.
   */
  readonly readHandlerFile?: (relPath: string) => string | undefined;
}

/** What {@link generateProto} produces. */
export interface ProtoOutput {
  /** Files svcgen owns (`gen/proto/**`, `gen/grpc/*`): write them, compare them in `--check`. */
  readonly files: GeneratedFile[];
  /**
   * User-owned handler files to write: only new files and files that gained stubs, so an
   * unchanged handler file never appears. `generate --check` should report them as changes.
   */
  readonly handlerFiles: HandlerFile[];
  /** Every handler file the services have (written or not), project-relative. */
  readonly handlerPaths: string[];
  /** The project's services, in build order (what the deployment files are about). */
  readonly services: readonly DescService[];
  readonly diagnostics: Diagnostic[];
}

/** The pure part of the stage, shared with `protoc-gen-svcgen`. */
export interface ProtoCodegenInput {
  /** Every file of the build, dependencies first, with source info. */
  readonly files: readonly FileDescriptorProto[];
  /** Proto paths of the project's own files. */
  readonly userFiles: readonly string[];
  /** Project-relative source file of each user proto path, for diagnostics. */
  readonly sourcePaths: ReadonlyMap<string, string>;
  readonly model: Model;
  /** Output folder of generated code relative to where files are written (`gen`, or `` for a plugin). */
  readonly outDir: string;
}

/**
 * Generates messages and service code from descriptors: the part that both
 * `svcgen generate` and `protoc-gen-svcgen` run, so their bytes are identical.
 * Also returns the service plans for the handler stage.
 */
export function generateProtoCode(input: ProtoCodegenInput): {
  files: GeneratedFile[];
  plans: ReturnType<typeof bindServices>["plans"];
  diagnostics: Diagnostic[];
} {
  const prefix = input.outDir === "" ? "" : `${input.outDir}/`;
  const messages = emitProtoMessages(
    input.files,
    filesToEmit(input.files, input.userFiles),
    `${prefix}proto`,
  );
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...input.files] }));
  const services: DescService[] = [];
  for (const name of input.userFiles) {
    const file = registry.getFile(name);
    if (file !== undefined) services.push(...file.services);
  }
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, DescService>();
  for (const s of services) {
    const other = seen.get(serviceStem(s));
    if (other !== undefined) {
      diagnostics.push({
        severity: "error",
        code: ProtoCodes.badBinding,
        message: `Services ${other.typeName} and ${s.typeName} would both generate grpc/${serviceStem(s)}.ts`,
        hint: "Rename one of the services",
      });
    }
    seen.set(serviceStem(s), s);
  }
  const locate = createLocator(input.files, input.sourcePaths);
  const bound = bindServices({ services, model: input.model, locate });
  diagnostics.push(...bound.diagnostics);
  const modulePaths = queryModulePaths(input.model);
  const grpc = bound.plans.map((plan) =>
    emitGrpcService(plan, `${prefix}grpc`, {
      // Query modules live where the query emitter put them (sub-folders kept).
      queryModule: (file) => {
        const rel = modulePaths.get(file);
        return rel === undefined ? defaultQueryModule(file) : `../db/${rel}.js`;
      },
    }),
  );
  return { files: [...messages, ...grpc], plans: bound.plans, diagnostics };
}

/**
 * The proto stage of `svcgen generate`. Files are relative to the project folder. Returns
 * nothing and no diagnostics when the config has no `proto:` section. Handler files come back
 * separately in `handlerFiles` because they are created once and then only extended.
 */
export async function generateProto(
  config: ResolvedConfig,
  model: Model,
  opts: GenerateProtoOptions = {},
): Promise<ProtoOutput> {
  if (config.proto === undefined)
    return { files: [], handlerFiles: [], handlerPaths: [], services: [], diagnostics: [] };
  const built = await buildProto(config.proto.roots, config.rootDir);
  if (built.build === undefined)
    return {
      files: [],
      handlerFiles: [],
      handlerPaths: [],
      services: [],
      diagnostics: built.diagnostics,
    };
  const rel = (abs: string): string => path.relative(config.rootDir, abs).split(path.sep).join("/");
  const code = generateProtoCode({
    files: built.build.files,
    userFiles: built.build.userFiles,
    sourcePaths: built.build.sourcePaths,
    model,
    outDir: rel(config.out),
  });
  const read =
    opts.readHandlerFile ??
    ((p: string): string | undefined => {
      try {
        return readFileSync(path.join(config.rootDir, p), "utf8");
      } catch {
        return undefined;
      }
    });
  const handlersDir = rel(config.proto.handlersDir);
  const handlerFiles: HandlerFile[] = [];
  const diagnostics = [...code.diagnostics];
  const handlerPaths: string[] = [];
  for (const plan of code.plans) {
    const file = handlerFilePath(plan, handlersDir);
    handlerPaths.push(file);
    const grpcFile = `${rel(config.out)}/grpc/${serviceStem(plan.service)}.js`;
    let spec = path.posix.relative(path.posix.dirname(file), grpcFile);
    if (!spec.startsWith(".")) spec = `./${spec}`;
    const existing = read(file);
    if (existing === undefined) {
      handlerFiles.push({ path: file, content: createHandlerFile(plan, spec), created: true });
      continue;
    }
    const merged = mergeHandlerFile(plan, existing, file);
    diagnostics.push(...merged.diagnostics);
    if (merged.content !== undefined)
      handlerFiles.push({ path: file, content: merged.content, created: false });
  }
  const services = code.plans.map((p) => p.service);
  return { files: code.files, handlerFiles, handlerPaths, services, diagnostics };
}
