// Handlers of example.file.v1.FileService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import { type CallContext, unimplemented } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import {
  type FileServiceBound,
  type FileServiceBoundOptions,
  type FileServiceHandlers,
  createFileServiceBound,
} from "../../gen/grpc/file-service.js";

/** Serves example.file.v1.FileService: register with `addFileService(server, new FileServiceImpl(pool))`. */
export class FileServiceImpl implements FileServiceHandlers {
  private readonly bound: FileServiceBound;

  constructor(db: Pool, options: FileServiceBoundOptions = {}) {
    this.bound = createFileServiceBound(db, options);
  }

  createUploadUrl(
    _request: Parameters<FileServiceHandlers["createUploadUrl"]>[0],
    _ctx: CallContext,
  ): ReturnType<FileServiceHandlers["createUploadUrl"]> {
    throw unimplemented("example.file.v1.FileService/CreateUploadUrl");
  }

  createFile(
    request: Parameters<FileServiceHandlers["createFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["createFile"]> {
    return this.bound.createFile(request, ctx);
  }

  getFile(
    request: Parameters<FileServiceHandlers["getFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["getFile"]> {
    return this.bound.getFile(request, ctx);
  }

  adminGetFile(
    request: Parameters<FileServiceHandlers["adminGetFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["adminGetFile"]> {
    return this.bound.adminGetFile(request, ctx);
  }

  listMyFiles(
    request: Parameters<FileServiceHandlers["listMyFiles"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["listMyFiles"]> {
    return this.bound.listMyFiles(request, ctx);
  }

  getUsage(
    request: Parameters<FileServiceHandlers["getUsage"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["getUsage"]> {
    return this.bound.getUsage(request, ctx);
  }

  deleteFile(
    request: Parameters<FileServiceHandlers["deleteFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["deleteFile"]> {
    return this.bound.deleteFile(request, ctx);
  }
}
