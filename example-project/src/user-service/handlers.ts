// Handlers of example.user.v1.UserService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import type { CallContext } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import { searchProfiles } from "../../gen/db/user/profiles.js";
import {
  createUserServiceBound,
  type UserServiceBound,
  type UserServiceBoundOptions,
  type UserServiceHandlers,
} from "../../gen/grpc/user-service.js";
import { decodePageToken, encodePageToken, filterFingerprint } from "../shared/page-token.js";

/** Profiles per page of SearchProfiles when the request sets no page size. */
const defaultPageSize = 20;

/** Serves example.user.v1.UserService: register with `addUserService(server, new UserServiceImpl(pool))`. */
export class UserServiceImpl implements UserServiceHandlers {
  private readonly bound: UserServiceBound;
  private readonly pool: Pool;

  constructor(db: Pool, options: UserServiceBoundOptions = {}) {
    this.pool = db;
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

  /**
   * Keyset pagination in handle order (unique, so no row is skipped or repeated when rows
   * change between pages): the page token holds the last handle sent and a fingerprint of the
   * filters; one row more than the page is read to know whether another page follows.
   */
  async searchProfiles(
    request: Parameters<UserServiceHandlers["searchProfiles"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["searchProfiles"]> {
    const filters = {
      handlePrefix: request.handlePrefix ?? null,
      nameContains: request.nameContains ?? null,
      locale: request.locale ?? null,
    };
    const fingerprint = filterFingerprint([
      filters.handlePrefix,
      filters.nameContains,
      filters.locale,
    ]);
    const afterHandle = decodePageToken(request.pageToken, fingerprint) ?? null;
    const pageSize = request.pageSize ?? defaultPageSize;
    const rows = await searchProfiles(
      this.pool,
      { ...filters, afterHandle, rowLimit: BigInt(pageSize + 1) },
      { signal: ctx.signal },
    );
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      profiles: page.map((row) => ({
        userId: row.userId,
        handle: row.handle,
        displayName: row.displayName,
        avatarFileId: row.avatarFileId ?? undefined,
      })),
      nextPageToken:
        rows.length > pageSize && last !== undefined
          ? encodePageToken(last.handle, fingerprint)
          : undefined,
    };
  }

  deleteMyAccount(
    request: Parameters<UserServiceHandlers["deleteMyAccount"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["deleteMyAccount"]> {
    return this.bound.deleteMyAccount(request, ctx);
  }

  follow(
    request: Parameters<UserServiceHandlers["follow"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["follow"]> {
    return this.bound.follow(request, ctx);
  }

  unfollow(
    request: Parameters<UserServiceHandlers["unfollow"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["unfollow"]> {
    return this.bound.unfollow(request, ctx);
  }

  listFollowing(
    request: Parameters<UserServiceHandlers["listFollowing"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["listFollowing"]> {
    return this.bound.listFollowing(request, ctx);
  }

  listFollowers(
    request: Parameters<UserServiceHandlers["listFollowers"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceHandlers["listFollowers"]> {
    return this.bound.listFollowers(request, ctx);
  }
}
