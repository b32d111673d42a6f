/**
 * The schema's constraints in the Model: read from the catalog of the database the migrations
 * built (every kind, composite keys in key order, foreign keys with their referenced columns,
 * NOT NULL columns), sorted, written to the manifest, read back unchanged, and served from the
 * analysis cache on a run that opens no database.
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

const schema = `CREATE SCHEMA billing;
CREATE TABLE orgs (id int PRIMARY KEY, slug text NOT NULL, region text NOT NULL,
  CONSTRAINT orgs_region_slug_key UNIQUE (region, slug));
CREATE TABLE billing.invoices (
  id bigint GENERATED ALWAYS AS IDENTITY,
  org_id int NOT NULL,
  total numeric CHECK (total >= 0),
  span box,
  CONSTRAINT invoices_pkey PRIMARY KEY (id),
  CONSTRAINT invoices_org_fkey FOREIGN KEY (org_id) REFERENCES orgs (id),
  CONSTRAINT invoices_span_excl EXCLUDE USING gist (span WITH &&)
);
`;

it("lists every constraint of the schema, sorted, in the manifest and from the cache", async () => {
  const dir = await writeProject("constraints", {
    "svcgen.yaml": "schema: migrations\nqueries: queries\nout: gen\n",
    "migrations/001.sql": schema,
    "queries/q.sql": "-- name: CountOrgs :one\nSELECT count(*) AS n FROM orgs;\n",
  });
  dirs.push(dir);
  const env = { DATABASE_URL: serverUrl() };
  const first = await runCli(dir, ["generate"], env);
  expect(first.err).not.toMatch(/error/);
  expect(first.code).toBe(0);
  const text = await readFile(join(dir, "gen/svcgen-manifest.json"), "utf8");
  const model = parseManifest(text);
  expect(model.constraints).toEqual([
    {
      name: "invoices_pkey",
      kind: "primary_key",
      schema: "billing",
      table: "invoices",
      columns: ["id"],
    },
    {
      name: "invoices_org_fkey",
      kind: "foreign_key",
      schema: "billing",
      table: "invoices",
      columns: ["org_id"],
      references: { schema: "public", table: "orgs", columns: ["id"] },
    },
    {
      name: "invoices_total_check",
      kind: "check",
      schema: "billing",
      table: "invoices",
      columns: ["total"],
    },
    {
      name: "invoices_span_excl",
      kind: "exclusion",
      schema: "billing",
      table: "invoices",
      columns: ["span"],
    },
    {
      name: "invoices_id_not_null",
      kind: "not_null",
      schema: "billing",
      table: "invoices",
      columns: ["id"],
    },
    {
      name: "invoices_org_id_not_null",
      kind: "not_null",
      schema: "billing",
      table: "invoices",
      columns: ["org_id"],
    },
    { name: "orgs_pkey", kind: "primary_key", schema: "public", table: "orgs", columns: ["id"] },
    {
      name: "orgs_region_slug_key",
      kind: "unique",
      schema: "public",
      table: "orgs",
      columns: ["region", "slug"],
    },
    {
      name: "orgs_id_not_null",
      kind: "not_null",
      schema: "public",
      table: "orgs",
      columns: ["id"],
    },
    {
      name: "orgs_region_not_null",
      kind: "not_null",
      schema: "public",
      table: "orgs",
      columns: ["region"],
    },
    {
      name: "orgs_slug_not_null",
      kind: "not_null",
      schema: "public",
      table: "orgs",
      columns: ["slug"],
    },
  ]);

  // A second run with a closed database: queries and constraints both come from the cache,
  // so the manifest is written again byte for byte.
  await rm(join(dir, "gen/svcgen-manifest.json"));
  const again = await runCli(dir, ["generate"], {
    DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres",
  });
  expect(again.err).toBe("");
  expect(again.code).toBe(0);
  expect(await readFile(join(dir, "gen/svcgen-manifest.json"), "utf8")).toBe(text);
});
