/**
 * Type overrides end to end: `types:` in svcgen.yaml (by table.column and by Postgres type,
 * separate parameter and result types, imports relative to the project folder) reach the
 * generated modules, which compile against the project's own type definitions.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { main } from "../../cli/src/main.js";
import { serverUrl } from "../db.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
// Inside the repository, so `@svcgen/runtime` and `pg` resolve for the type-check.
await mkdir(join(root, "test", ".tmp"), { recursive: true });
const dir = await mkdtemp(join(root, "test", ".tmp", "overrides-"));

afterAll(async () => {
  if (process.env.KEEP_TMP !== "1") await rm(dir, { recursive: true, force: true });
});

const files: Record<string, string> = {
  "svcgen.yaml": `schema: migrations
queries: [queries/accounts, queries/reports]
out: gen
types:
  - column: accounts.id
    tsType: AccountId
    import: { name: AccountId, from: ./src/types.js }
  - pgType: numeric
    paramType: string
    resultType: Money
    import: { name: Money, from: ./src/types.js }
options:
  int8: string
`,
  "migrations/001.sql":
    "CREATE TABLE accounts (id uuid PRIMARY KEY, balance numeric NOT NULL, hits bigint NOT NULL);\n",
  "queries/accounts/accounts.sql": `-- name: GetAccount :one
SELECT id, balance, hits FROM accounts WHERE id = @id;

-- name: Deposit :one
UPDATE accounts SET balance = balance + @amount WHERE id = @id RETURNING id, balance;
`,
  "queries/reports/totals.sql":
    "-- name: Total :one\nSELECT sum(balance) AS total FROM accounts;\n",
  "src/types.ts": `export type AccountId = string & { readonly __brand: "AccountId" };
export type Money = string & { readonly __brand: "Money" };
`,
  "src/usage.ts": `import type pg from "pg";
import { deposit, getAccount } from "../gen/db/accounts/accounts.js";
import { total } from "../gen/db/reports/totals.js";
import type { AccountId, Money } from "./types.js";

export async function use(db: pg.Pool, id: AccountId): Promise<[AccountId, Money, string, Money | null]> {
  const a = await getAccount(db, { id });
  if (a === null) throw new Error("no account");
  const d = await deposit(db, { id, amount: "10.00" });
  const t = await total(db);
  return [a.id, d?.balance ?? a.balance, a.hits, t?.total ?? null];
}
`,
  "tsconfig.json": JSON.stringify({
    extends: "../../../tsconfig.base.json",
    compilerOptions: { noEmit: true, declaration: false, sourceMap: false },
    include: ["gen/**/*.ts", "src/**/*.ts"],
  }),
};

it("applies overrides by column and by type, with imports rewritten for sub-folders", async () => {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  let err = "";
  const code = await main(["generate"], {
    out: () => {},
    err: (t) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: serverUrl() },
  });
  expect(err).not.toContain("error");
  expect(code).toBe(0);

  const accounts = await readFile(join(dir, "gen/db/accounts/accounts.ts"), "utf8");
  expect(accounts).toContain('import type { AccountId, Money } from "../../../src/types.js";');
  expect(accounts).toMatch(/readonly id: AccountId;/);
  expect(accounts).toMatch(/readonly amount: string;/);
  expect(accounts).toMatch(/balance: Money;/);
  expect(accounts).toMatch(/hits: string;/);
  const totals = await readFile(join(dir, "gen/db/reports/totals.ts"), "utf8");
  expect(totals).toMatch(/total: Money \| null;/);

  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const r = await run("node", [tsc, "-p", join(dir, "tsconfig.json")]).then(
    () => "",
    (e: { stdout: string }) => e.stdout,
  );
  expect(r).toBe("");
});
