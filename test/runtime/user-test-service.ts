/**
 * The service the runtime's fault tests serve: the example project's generated UserService
 * (bound handlers over the real query layer), one method made slow on request so deadlines
 * can be tested, extra constraints so every constraint kind can be violated through the
 * generated handlers, and the error-map table the generator would emit for them.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Metadata } from "@grpc/grpc-js";
import { defineQuery, runOne } from "@svcgen/runtime";
import { type CallContext, notFound, type Principal } from "@svcgen/runtime/grpc";
import { defineService, type ErrorMapTable, type RegisteredService } from "@svcgen/runtime/server";
import type { Pool } from "pg";
import { userServicePolicies } from "../../example-project/gen/grpc/user-service.js";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";

const exampleDir = join(import.meta.dirname, "..", "..", "example-project");

/** The user service's migrations plus one constraint of each kind the table lacks. */
export async function userSchemaSql(): Promise<string> {
  const dir = join(exampleDir, "migrations", "user");
  const parts: string[] = [];
  for (const f of (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort()) {
    parts.push(await readFile(join(dir, f), "utf8"));
  }
  parts.push(`
    CREATE TABLE files (id uuid PRIMARY KEY);
    ALTER TABLE profiles ADD CONSTRAINT profiles_avatar_file_id_fkey
      FOREIGN KEY (avatar_file_id) REFERENCES files (id);
    ALTER TABLE profiles ADD CONSTRAINT profiles_locale_check CHECK (locale <> 'xx');
    ALTER TABLE profiles ADD CONSTRAINT profiles_timezone_excl EXCLUDE USING btree (timezone WITH =);
    ALTER TABLE profiles ALTER COLUMN bio SET NOT NULL;
  `);
  return parts.join("\n");
}

/** The error map the generator emits for these constraints (fields named as proto fields). */
export const userErrorMap: ErrorMapTable = {
  domain: "example.user.v1",
  constraints: {
    profiles_pkey: {
      kind: "primary_key",
      code: "ALREADY_EXISTS",
      reason: "PROFILES_PKEY",
      fields: [],
      message: "This account already has a profile",
      description: "must be unique",
    },
    profiles_handle_key: {
      kind: "unique",
      code: "ALREADY_EXISTS",
      reason: "PROFILES_HANDLE_KEY",
      fields: ["handle"],
      message: "A profile with this handle already exists",
      description: "must be unique",
    },
    profiles_avatar_file_id_fkey: {
      kind: "foreign_key",
      code: "FAILED_PRECONDITION",
      reason: "PROFILES_AVATAR_FILE_ID_FKEY",
      fields: ["avatar_file_id"],
      message: "The avatar file does not exist",
      description: "must refer to an existing file",
    },
    profiles_locale_check: {
      kind: "check",
      code: "INVALID_ARGUMENT",
      reason: "PROFILES_LOCALE_CHECK",
      fields: ["locale"],
      message: "The locale is not allowed",
      description: "violates a check",
    },
    profiles_timezone_excl: {
      kind: "exclusion",
      code: "FAILED_PRECONDITION",
      reason: "PROFILES_TIMEZONE_EXCL",
      fields: ["timezone"],
      message: "Another profile already uses this time zone",
      description: "conflicts with another profile",
    },
    "profiles.bio": {
      kind: "not_null",
      code: "INVALID_ARGUMENT",
      reason: "PROFILES_BIO_NOT_NULL",
      fields: ["bio"],
      message: "A bio is required",
      description: "is required",
    },
  },
};

/** Test auth: the caller's account id comes in `x-test-uid` (the auth layer is tested elsewhere). */
export async function testAuthenticate(metadata: Metadata): Promise<Principal | undefined> {
  const uid = metadata.get("x-test-uid")[0];
  return typeof uid === "string" ? { uid, roles: [], claims: {} } : undefined;
}

const sleepQuery = defineQuery<{ seconds: string }, { slept: string }>({
  name: "TestSleep",
  sql: "SELECT pg_sleep($1::float8)::text AS slept",
  params: [["seconds", (v) => String(v)]],
  columns: [["slept", (v) => v]],
});

/**
 * UserService where `GetProfileByHandle("sleep_<ms>")` sleeps that long in the database first,
 * and `GetProfileByHandle("boom")` fails with an unexpected error.
 */
export class SleepyUserService extends UserServiceImpl {
  constructor(private readonly db: Pool) {
    super(db);
  }

  override async getProfileByHandle(
    request: Parameters<UserServiceImpl["getProfileByHandle"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceImpl["getProfileByHandle"]> {
    if (request.handle === "boom") throw new Error("secret detail: SELECT * FROM profiles");
    const m = /^sleep_(\d+)$/.exec(request.handle);
    if (m === null) return super.getProfileByHandle(request, ctx);
    await runOne(
      this.db,
      sleepQuery,
      { seconds: String(Number(m[1]) / 1000) },
      { signal: ctx.signal },
    );
    throw notFound("slept");
  }
}

/** The example project's UserService as it ships: its generated policies and its handlers. */
export function exampleUserService(): RegisteredService {
  return defineService({
    service: UserService,
    policies: userServicePolicies,
    handlers: (db: Pool) => new UserServiceImpl(db),
  });
}

/** The registration of the test service; `policies` overrides some methods' policies. */
export function userRegistration(
  policies: Partial<Record<keyof typeof userServicePolicies & string, unknown>> = {},
  fallbacks?: RegisteredService["fallbacks"],
): RegisteredService {
  return defineService({
    service: UserService,
    handlers: (db: Pool) => new SleepyUserService(db),
    policies: { ...userServicePolicies, ...(policies as typeof userServicePolicies) },
    ...(fallbacks === undefined ? {} : { fallbacks }),
  });
}
