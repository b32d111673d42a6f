import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./db.js";

describe("test database", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("smoke", "CREATE TABLE t (id int primary key)");
  });
  afterAll(async () => {
    await db.drop();
  });
  it("is a real, fresh PostgreSQL database", async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const r = await c.query<{ n: string }>("SELECT count(*) AS n FROM t");
    await c.end();
    expect(r.rows[0]?.n).toBe("0");
  });
});
