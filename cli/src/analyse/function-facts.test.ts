/**
 * The function table checked against PostgreSQL itself: every listed function exists in
 * `pg_catalog` with the strictness and kind the table claims, on the run's real server.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverUrl } from "../../../test/db.js";
import { functionFacts } from "./function-facts.js";

interface Overload {
  readonly name: string;
  readonly args: string;
  readonly strict: boolean;
  readonly kind: string;
}

describe("function facts", () => {
  const client = new pg.Client({ connectionString: serverUrl() });
  let overloads: readonly Overload[] = [];
  let version = 0;

  beforeAll(async () => {
    await client.connect();
    const r = await client.query<Overload>(
      `SELECT p.proname AS name, pg_catalog.oidvectortypes(p.proargtypes) AS args,
              p.proisstrict AS strict, p.prokind::text AS kind
         FROM pg_catalog.pg_proc p
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'pg_catalog'
        WHERE p.proname = ANY($1::text[])`,
      [functionFacts.map((f) => f.name)],
    );
    overloads = r.rows;
    const v = await client.query<{ v: string }>(
      "SELECT current_setting('server_version_num') AS v",
    );
    version = Number.parseInt(v.rows[0]?.v ?? "0", 10);
  });

  afterAll(async () => {
    await client.end();
  });

  it("lists each function once", () => {
    const names = functionFacts.map((f) => f.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it("claims 'total' only for strict functions (the analyser requires both)", () => {
    expect(functionFacts.filter((f) => f.nulls === "total" && !f.strict)).toEqual([]);
  });

  it("matches pg_proc: every listed function exists with the claimed strictness and kind", () => {
    expect(overloads.length).toBeGreaterThan(functionFacts.length);
    const wrong: string[] = [];
    for (const f of functionFacts) {
      const covered = overloads.filter(
        (o) =>
          o.name === f.name && (f.args === "any" || f.args.some((a) => a.join(", ") === o.args)),
      );
      const expectedPresent = f.since === undefined || version >= f.since;
      if (!expectedPresent) {
        // Newer than this server: it must really be absent, or `since` is wrong.
        if (covered.length > 0) wrong.push(`${f.name}: exists before version ${f.since}`);
        continue;
      }
      if (covered.length === 0) {
        wrong.push(`${f.name}: not in pg_catalog.pg_proc`);
        continue;
      }
      const strict = covered.every((o) => o.strict);
      if (strict !== f.strict)
        wrong.push(`${f.name}: proisstrict is ${strict}, table says ${f.strict}`);
      const want = f.kind === "aggregate" ? "a" : f.kind === "window" ? "w" : "f";
      if (!covered.some((o) => o.kind === want)) {
        wrong.push(`${f.name}: no overload of prokind '${want}'`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
