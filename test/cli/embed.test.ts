/**
 * `sqlc.embed(t)`: a table's columns nested under its name in the row, end to end — parsed,
 * analysed (nullability per column, from an outer join too), emitted, compiled, and decoded
 * by the runtime on real rows.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { main } from "../../cli/src/main.js";
import type { toPublicModel } from "../../cli/src/model.js";
import { createTestDatabase, serverUrl } from "../db.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
await mkdir(join(root, "test", ".tmp"), { recursive: true });
const dir = await mkdtemp(join(root, "test", ".tmp", "embed-"));

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = `CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, bio text);
CREATE TABLE posts (id int PRIMARY KEY, author_id int REFERENCES users, title text NOT NULL);
`;

it("nests an embedded table's columns and decodes them", async () => {
  const files: Record<string, string> = {
    "svcgen.yaml": "schema: migrations\nqueries: queries\nout: gen\n",
    "migrations/001.sql": schema,
    "queries/posts.sql": `-- name: ListPostsWithAuthor :many
SELECT p.id, p.title, sqlc.embed(u) FROM posts p LEFT JOIN users u ON u.id = p.author_id ORDER BY p.id;

-- name: GetAuthorWithPost :one
SELECT sqlc.embed(users), sqlc.embed(posts) FROM users JOIN posts ON posts.author_id = users.id WHERE posts.id = @id;
`,
    "tsconfig.json": JSON.stringify({
      extends: "../../../tsconfig.base.json",
      compilerOptions: { noEmit: true, declaration: false, sourceMap: false },
      include: ["gen/**/*.ts"],
    }),
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  let err = "";
  let out = "";
  const io = {
    out: (t: string) => {
      out += t;
    },
    err: (t: string) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: serverUrl() },
  };
  expect(await main(["generate"], io)).toBe(0);
  expect(err).not.toContain("error");

  out = "";
  expect(await main(["analyze", "--json"], io)).toBe(0);
  const model = JSON.parse(out) as ReturnType<typeof toPublicModel>;
  const cols = model.queries[0]?.columns.map((c) => `${c.name}${c.nullable ? "?" : ""}`);
  // The left-joined user's NOT NULL columns become nullable; their names are the table's.
  expect(cols).toEqual(["id", "title", "id?", "name?", "bio?"]);

  const text = await readFile(join(dir, "gen/db/posts.ts"), "utf8");
  expect(text).toContain("u: { id: number | null; name: string | null; bio: string | null };");
  expect(text).toContain("users: { id: number; name: string; bio: string | null };");
  // The join condition proves author_id is not null in these rows.
  expect(text).toContain("posts: { id: number; authorId: number; title: string };");
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const compiled = await run("node", [tsc, "-p", join(dir, "tsconfig.json")]).then(
    () => "",
    (e: { stdout: string }) => e.stdout,
  );
  expect(compiled).toBe("");

  const db = await createTestDatabase(
    "embed",
    `${schema}INSERT INTO users VALUES (1, 'Ada', NULL);
     INSERT INTO posts VALUES (10, 1, 'Engines'), (11, NULL, 'Anonymous');`,
  );
  const pool = new pg.Pool({ connectionString: db.url });
  try {
    const mod = (await import(join(dir, "gen/db/posts.ts"))) as {
      listPostsWithAuthor: (db: pg.Pool) => Promise<unknown[]>;
      getAuthorWithPost: (db: pg.Pool, p: { id: number }) => Promise<unknown>;
    };
    expect(await mod.listPostsWithAuthor(pool)).toEqual([
      { id: 10, title: "Engines", u: { id: 1, name: "Ada", bio: null } },
      { id: 11, title: "Anonymous", u: { id: null, name: null, bio: null } },
    ]);
    expect(await mod.getAuthorWithPost(pool, { id: 10 })).toEqual({
      users: { id: 1, name: "Ada", bio: null },
      posts: { id: 10, authorId: 1, title: "Engines" },
    });
  } finally {
    await pool.end();
    await db.drop();
  }
});
