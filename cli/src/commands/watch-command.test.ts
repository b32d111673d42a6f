/** The watch session's log line, as a pure function of a run. */
import { describe, expect, it } from "vitest";
import { summarise, type WatchRun } from "./watch-command.js";

const run: WatchRun = {
  changed: ["queries/users.sql"],
  kinds: ["query"],
  analysed: 1,
  queries: 3,
  written: ["gen/db/users.ts"],
  deleted: [],
  errors: 0,
  warnings: 0,
  migrationsApplied: false,
  ms: 38,
};

describe("summarise", () => {
  it("says what was re-analysed and written", () => {
    expect(summarise(run, false)).toBe("1 of 3 queries re-analysed, 1 file written (38 ms)");
    expect(summarise({ ...run, queries: 1, written: [], deleted: ["gen/db/x.ts"] }, false)).toBe(
      "1 of 1 query re-analysed, 0 files written, 1 deleted (38 ms)",
    );
  });

  it("reports errors, their clearing, warnings and applied migrations", () => {
    expect(summarise({ ...run, errors: 2, written: [] }, false)).toBe(
      "1 of 3 queries re-analysed, 2 errors, nothing written (38 ms)",
    );
    expect(summarise({ ...run, warnings: 1, migrationsApplied: true }, true)).toBe(
      "migrations applied, 1 of 3 queries re-analysed, 1 file written, errors cleared, 1 warning (38 ms)",
    );
  });
});
