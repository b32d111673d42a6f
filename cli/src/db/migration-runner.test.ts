/** Statement boundaries of migration files, from PostgreSQL's parser and scanner. */
import { describe, expect, it } from "vitest";
import { splitStatements } from "./migration-runner.js";

describe("splitStatements", () => {
  it("finds each statement's first token past comments, nested ones included", async () => {
    const text = [
      "-- héllo; not a statement",
      "CREATE TABLE a (x int);",
      "/* outer /* nested; */ still comment; */",
      "  CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT '--;' $$;",
      "BEGIN; COMMIT;",
    ].join("\n");
    const spans = await splitStatements(text);
    expect(spans?.map((s) => text.slice(s.firstToken, s.firstToken + 6))).toEqual([
      "CREATE",
      "CREATE",
      "BEGIN;",
      "COMMIT",
    ]);
    expect(spans?.map((s) => s.transactionControl)).toEqual([false, false, true, true]);
    // A `;` inside a dollar-quoted body does not end the statement.
    expect(text.slice(spans![1]!.start, spans![1]!.end)).toMatch(/SELECT '--;' \$\$$/);
  });

  it("gives undefined for SQL the parser rejects", async () => {
    expect(await splitStatements("CREATE TABLE (;")).toBeUndefined();
  });
});
