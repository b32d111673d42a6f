// Handlers of example.data.v1.DataService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import type { CallContext } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import {
  type DataServiceBound,
  type DataServiceBoundOptions,
  type DataServiceHandlers,
  createDataServiceBound,
} from "../../gen/grpc/data-service.js";

/** Serves example.data.v1.DataService: register with `addDataService(server, new DataServiceImpl(pool))`. */
export class DataServiceImpl implements DataServiceHandlers {
  private readonly bound: DataServiceBound;

  constructor(db: Pool, options: DataServiceBoundOptions = {}) {
    this.bound = createDataServiceBound(db, options);
  }

  getRecord(
    request: Parameters<DataServiceHandlers["getRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["getRecord"]> {
    return this.bound.getRecord(request, ctx);
  }

  listMyRecords(
    request: Parameters<DataServiceHandlers["listMyRecords"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["listMyRecords"]> {
    return this.bound.listMyRecords(request, ctx);
  }

  createRecord(
    request: Parameters<DataServiceHandlers["createRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["createRecord"]> {
    return this.bound.createRecord(request, ctx);
  }

  updateRecord(
    request: Parameters<DataServiceHandlers["updateRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["updateRecord"]> {
    return this.bound.updateRecord(request, ctx);
  }

  deleteRecord(
    request: Parameters<DataServiceHandlers["deleteRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["deleteRecord"]> {
    return this.bound.deleteRecord(request, ctx);
  }

  shareRecord(
    request: Parameters<DataServiceHandlers["shareRecord"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["shareRecord"]> {
    return this.bound.shareRecord(request, ctx);
  }

  recordStats(
    request: Parameters<DataServiceHandlers["recordStats"]>[0],
    ctx: CallContext,
  ): ReturnType<DataServiceHandlers["recordStats"]> {
    return this.bound.recordStats(request, ctx);
  }
}
