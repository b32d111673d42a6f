/**
 * Which queries the generator marks read-only (`readOnly: true` in their `defineQuery`, which
 * lets the runtime send them again after a transient failure): only a SELECT that locks
 * nothing, modifies nothing and calls no volatile function, directly or through a view.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { parseManifest } from "../../cli/src/manifest.js";
import { serverUrl } from "../db.js";
import { runCli, writeProject } from "./cli-project.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const schema = `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, seen int NOT NULL DEFAULT 0);
CREATE FUNCTION touch_item(item int) RETURNS int LANGUAGE sql VOLATILE
  AS 'UPDATE items SET seen = seen + 1 WHERE id = item RETURNING seen';
CREATE FUNCTION label(name text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper(name)';
CREATE VIEW item_labels AS SELECT id, label(name) AS label FROM items;
CREATE VIEW touched_items AS SELECT id, touch_item(id) AS seen FROM items;
`;

const queries: Readonly<Record<string, boolean>> = {
  "GetItem :one\nSELECT id, name FROM items WHERE id = @id": true,
  "CountItems :one\nSELECT count(*) AS n, now() AS at FROM items": true,
  "ItemLabels :many\nSELECT id, label FROM item_labels": true,
  "WithRead :many\nWITH x AS (SELECT id FROM items) SELECT id FROM x": true,
  "LockItem :one\nSELECT id FROM items WHERE id = @id FOR UPDATE": false,
  "LockInSubquery :many\nSELECT id FROM (SELECT id FROM items FOR SHARE) s": false,
  "DeleteInCte :many\nWITH d AS (DELETE FROM items WHERE id = @id RETURNING id) SELECT id FROM d": false,
  "NextId :one\nSELECT nextval('items_id_seq') AS id": false,
  "TouchItem :one\nSELECT touch_item(@id::int) AS seen": false,
  "TouchedView :many\nSELECT id, seen FROM touched_items": false,
  "RandomItem :one\nSELECT id FROM items ORDER BY random() LIMIT 1": false,
  "RenameItem :exec\nUPDATE items SET name = @name WHERE id = @id": false,
  "CopyItems :exec\nSELECT * INTO items_copy FROM items": false,
};

it("marks read-only exactly the SELECTs that lock, modify and call nothing volatile", async () => {
  const dir = await writeProject("read-only", {
    "svcgen.yaml": "schema: migrations\nqueries: queries\nout: gen\n",
    "migrations/001.sql": schema,
    "queries/q.sql": Object.keys(queries)
      .map((q) => `-- name: ${q};\n`)
      .join("\n"),
  });
  dirs.push(dir);
  const run = await runCli(dir, ["generate", "--no-cache"], { DATABASE_URL: serverUrl() });
  expect(run.err).not.toMatch(/error/);
  expect(run.code).toBe(0);
  const model = parseManifest(await readFile(join(dir, "gen/svcgen-manifest.json"), "utf8"));
  const marked = Object.fromEntries(model.queries.map((q) => [q.name, q.readOnly === true]));
  const expected = Object.fromEntries(
    Object.entries(queries).map(([q, readOnly]) => [q.split(" ")[0], readOnly]),
  );
  expect(marked).toEqual(expected);
  const module = await readFile(join(dir, "gen/db/q.ts"), "utf8");
  expect(module.match(/readOnly: true,/g)).toHaveLength(
    Object.values(queries).filter((x) => x).length,
  );
});
