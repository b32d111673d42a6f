/**
 * The proto stage: bind the RPCs of the project's protos to the analysed queries (services
 * into the Model), emit protobuf-es messages and gRPC service code, and create or extend the
 * handler skeletons. Pure functions of their inputs (descriptors, Model, existing handler
 * text); building the protos with buf and reading files happen at the edge.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { buildModel } from "../analyse/model-builder.js";
import { bindServices, serviceStem } from "../analyse/rpc-binder.js";
import type { ResolvedConfig } from "../config/config.js";
import type { Diagnostic } from "../diagnostics.js";
import {
  createHandlerFile,
  handlerFilePath,
  mergeHandlerFile,
} from "../emit/grpc-handlers-emitter.js";
import { defaultQueryModule, emitGrpcService } from "../emit/grpc-service-emitter.js";
import { emitProtoMessages, filesToEmit } from "../emit/proto-messages-emitter.js";
import { queryModulePaths } from "../emit/query-module-emitter.js";
import type { GeneratedFile } from "../inputs.js";
import type { Model, QueryModel, ServiceModel } from "../model.js";
import { projectPath, relativeModule } from "../project-paths.js";
import { buildProto, type ProtoBuild } from "./buf-build.js";
import { ProtoCodes } from "./proto-codes.js";
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
  readonly diagnostics: Diagnostic[];
  /** The services, bound, as they are in the Model. */
  readonly services: readonly ServiceModel[];
}

/** The descriptors of one proto build: what buf gives `svcgen generate` and the plugin alike. */
export type ProtoInputs = ProtoBuild;

/**
 * The project's services as Model data: every service of the project's own files, its RPCs
 * bound to `queries`, with a diagnostic for every binding problem and for two services that
 * would write the same file.
 */
export function bindProtoServices(
  protos: ProtoInputs,
  queries: readonly QueryModel[],
): { services: ServiceModel[]; diagnostics: Diagnostic[] } {
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...protos.files] }));
  const services: DescService[] = [];
  for (const name of protos.userFiles) {
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
  const locate = createLocator(protos.files, protos.sourcePaths);
  const bound = bindServices({
    services,
    queries,
    locate,
    message: (name) => registry.getMessage(name),
  });
  return { services: bound.services, diagnostics: [...diagnostics, ...bound.diagnostics] };
}

/**
 * Messages of every proto file (with what it imports) and the service code of every service
 * of `model`, under `outDir` (`gen`, or `` for the plugin). Pure: the same descriptors and
 * Model give the same bytes, in `svcgen generate` and in `protoc-gen-svcgen`.
 */
export function emitProtoCode(protos: ProtoInputs, model: Model, outDir: string): GeneratedFile[] {
  const prefix = outDir === "" ? "" : `${outDir}/`;
  const messages = emitProtoMessages(
    protos.files,
    filesToEmit(protos.files, protos.userFiles),
    `${prefix}proto`,
  );
  const modulePaths = queryModulePaths(model);
  const grpc = model.services.map((service) =>
    emitGrpcService(service, model, `${prefix}grpc`, {
      // Query modules live where the query emitter put them (sub-folders kept).
      queryModule: (file) => {
        const rel = modulePaths.get(file);
        return rel === undefined ? defaultQueryModule(file) : `../db/${rel}.js`;
      },
    }),
  );
  return [...messages, ...grpc];
}

/** Input of {@link generateProtoCode}. */
export interface ProtoCodegenInput extends ProtoInputs {
  /** The analysed queries RPCs bind to. */
  readonly queries: readonly QueryModel[];
  /** Output folder of generated code relative to where files are written (`gen`, or `` for a plugin). */
  readonly outDir: string;
}

/**
 * Binds and emits: the part `svcgen generate` and `protoc-gen-svcgen` share, so their bytes
 * are identical. Returns the Model's services too.
 */
export function generateProtoCode(input: ProtoCodegenInput): {
  files: GeneratedFile[];
  services: ServiceModel[];
  diagnostics: Diagnostic[];
} {
  const bound = bindProtoServices(input, input.queries);
  const model = buildModel({ queries: input.queries, services: bound.services });
  return {
    files: emitProtoCode(input, model, input.outDir),
    services: bound.services,
    diagnostics: bound.diagnostics,
  };
}

/**
 * The handler skeletons of the Model's services: a new file for a service without one, stubs
 * spliced into an existing file for RPCs it lacks. `existing` gives a file's current text
 * (project-relative path), undefined when it does not exist.
 */
export function emitHandlerFiles(
  model: Model,
  outDir: string,
  handlersDir: string,
  existing: (relPath: string) => string | undefined,
): { handlerFiles: HandlerFile[]; handlerPaths: string[]; diagnostics: Diagnostic[] } {
  const handlerFiles: HandlerFile[] = [];
  const handlerPaths: string[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const service of model.services) {
    const file = handlerFilePath(service, handlersDir);
    handlerPaths.push(file);
    const spec = relativeModule(file, `${outDir}/grpc/${service.stem}.js`);
    const text = existing(file);
    if (text === undefined) {
      handlerFiles.push({
        path: file,
        content: createHandlerFile(service, spec, file),
        created: true,
      });
      continue;
    }
    const merged = mergeHandlerFile(service, text, file);
    diagnostics.push(...merged.diagnostics);
    if (merged.content !== undefined) {
      handlerFiles.push({ path: file, content: merged.content, created: false });
    }
  }
  return { handlerFiles, handlerPaths, diagnostics };
}

/** Reads a project file, undefined when it does not exist. */
export function readProjectFile(rootDir: string): (relPath: string) => string | undefined {
  return (p) => {
    try {
      return readFileSync(path.join(rootDir, p), "utf8");
    } catch {
      return undefined;
    }
  };
}

/**
 * The proto stage for a config and the analysed queries of `model`: builds the protos with
 * buf, then binds and emits. Files are relative to the project folder. Returns nothing and no
 * diagnostics when the config has no `proto:` section.
 */
export async function generateProto(
  config: ResolvedConfig,
  model: Model,
  opts: GenerateProtoOptions = {},
): Promise<ProtoOutput> {
  const none = { files: [], handlerFiles: [], handlerPaths: [], services: [] };
  if (config.proto === undefined) return { ...none, diagnostics: [] };
  const built = await buildProto(config.proto.roots, config.rootDir);
  if (built.build === undefined) return { ...none, diagnostics: built.diagnostics };
  const out = projectPath(config.rootDir, config.out);
  const code = generateProtoCode({ ...built.build, queries: model.queries, outDir: out });
  const full = buildModel({ ...model, services: code.services });
  const handlers = emitHandlerFiles(
    full,
    out,
    projectPath(config.rootDir, config.proto.handlersDir),
    opts.readHandlerFile ?? readProjectFile(config.rootDir),
  );
  return {
    files: code.files,
    handlerFiles: handlers.handlerFiles,
    handlerPaths: handlers.handlerPaths,
    services: code.services,
    diagnostics: [...code.diagnostics, ...handlers.diagnostics],
  };
}
