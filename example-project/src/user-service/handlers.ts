// Handlers of example.user.v1.UserService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import type { CallContext } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import {
  type UserServiceBound,
  type UserServiceBoundOptions,
  type UserServiceHandlers,
  createUserServiceBound,
} from "../../gen/grpc/user-service.js";

/** Serves example.user.v1.UserService: register with `addUserService(server, new UserServiceImpl(pool))`. */
export class UserServiceImpl implements UserServiceHandlers {
  private readonly bound: UserServiceBound;

  constructor(db: Pool, options: UserServiceBoundOptions = {}) {
    this.bound = createUserServiceBound(db, options);
  }

  getProfile(
    request: Parameters<UserServiceHandlers["getProfile"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["getProfile"]> {
    return this.bound.getProfile(request, ctx);
  }

  getMyProfile(
    request: Parameters<UserServiceHandlers["getMyProfile"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["getMyProfile"]> {
    return this.bound.getMyProfile(request, ctx);
  }

  getProfileByHandle(
    request: Parameters<UserServiceHandlers["getProfileByHandle"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["getProfileByHandle"]> {
    return this.bound.getProfileByHandle(request, ctx);
  }

  createProfile(
    request: Parameters<UserServiceHandlers["createProfile"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["createProfile"]> {
    return this.bound.createProfile(request, ctx);
  }

  updateProfile(
    request: Parameters<UserServiceHandlers["updateProfile"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["updateProfile"]> {
    return this.bound.updateProfile(request, ctx);
  }

  setAvatar(
    request: Parameters<UserServiceHandlers["setAvatar"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["setAvatar"]> {
    return this.bound.setAvatar(request, ctx);
  }

  listProfiles(
    request: Parameters<UserServiceHandlers["listProfiles"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["listProfiles"]> {
    return this.bound.listProfiles(request, ctx);
  }
}
