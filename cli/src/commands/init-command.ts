/**
 * `svcgen init`: scaffolds a project that generates as is: the config, one migration, one
 * query file, and the proto folder.
 */
import { constants } from "node:fs";
import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Codes, type Diagnostic } from "../diagnostics.js";

/** What {@link runInit} did. */
export interface InitResult {
  /** Created files, relative to the folder, forward slashes, in creation order. */
  readonly created: string[];
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

/** The files `svcgen init` writes, relative to the project folder, with their contents. */
export const scaffoldFiles: readonly { readonly path: string; readonly content: string }[] = [
  { path: "svcgen.yaml", content: configText },
  { path: "migrations/001_init.sql", content: migrationText },
  { path: "queries/users.sql", content: queriesText },
  // An example service comes later; the folder exists so proto.roots resolves.
  { path: "proto/.gitkeep", content: "" },
];

/**
 * Scaffolds a project in `dir` (created when missing): {@link scaffoldFiles}. Refuses to
 * overwrite: when any of those files exists, nothing is written and each existing file is an
 * SVC100 error (the command exits 1). Existing folders are fine.
 */
export async function runInit(dir: string): Promise<InitResult> {
  const root = resolve(dir);
  const diagnostics: Diagnostic[] = [];
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
  if (diagnostics.length > 0) return { created: [], diagnostics };
  const created: string[] = [];
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
  return { created, diagnostics };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
