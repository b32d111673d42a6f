/** A lost connection fails a describe batch with a clear error instead of hanging. */
import pg from "pg";
import { expect, it } from "vitest";
import { createTestDatabase } from "../../../test/db.js";
import { describeStatements } from "./describe.js";

it("rejects, never hangs, when the connection is lost", async () => {
  const db = await createTestDatabase("lost");
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  c.on("error", () => {});
  const pid = (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  // The backend is gone before the batch is sent, however the events interleave.
  await admin.query("SELECT pg_terminate_backend($1)", [pid]);
  const p = describeStatements(c, ["SELECT 1 AS one", "SELECT 2 AS two"]);
  await expect(p).rejects.toThrow(/connection was lost/);
  await admin.end();
  await db.drop();
});
