// Benchmark of the runtime's query path against node-postgres's default parsing.
// Usage: npx tsc -b runtime && DATABASE_URL=postgres://... node runtime/bench/query-bench.mjs
// Prints a Markdown table; runtime/bench/RESULTS.md keeps the last run's numbers.
import { performance } from "node:perf_hooks";
import pg from "pg";
import {
  decodeBigInt,
  decodeBool,
  decodeJson,
  decodeNumber,
  decodeText,
  decodeTimestamptz,
  defineQuery,
  encodeValue,
  runMany,
  runOne,
} from "../dist/index.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const rowsSql = `SELECT i::int4 AS id, i::int8 * 1000000000 AS big, 'name ' || i AS name,
  now() - i * interval '1 minute' AS created_at, i % 2 = 0 AS even,
  jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b')) AS doc, (i / 7.0)::numeric(12,4) AS ratio
  FROM generate_series(1, $1::int4) AS i`;

const manyRows = defineQuery({
  name: "BenchRows",
  sql: rowsSql,
  params: [["n", encodeValue]],
  columns: [
    ["id", decodeNumber],
    ["big", decodeBigInt],
    ["name", decodeText],
    ["createdAt", decodeTimestamptz],
    ["even", decodeBool],
    ["doc", decodeJson],
    ["ratio", decodeText],
  ],
});
const oneRow = defineQuery({
  name: "BenchOne",
  sql: "SELECT $1::int4 AS id, 'x'::text AS name",
  params: [["id", encodeValue]],
  columns: [
    ["id", decodeNumber],
    ["name", decodeText],
  ],
});

async function measure(iterations, fn) {
  for (let i = 0; i < Math.max(3, iterations / 10); i++) await fn();
  const times = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const client = new pg.Client({ connectionString: url });
await client.connect();
const n = 10_000;
const results = [];
results.push([
  `${n} rows x 7 columns, node-postgres default parsers (object rows)`,
  await measure(30, () => client.query(rowsSql.replace("$1::int4", String(n)))),
]);
results.push([
  `${n} rows x 7 columns, node-postgres default parsers, same SQL with a parameter`,
  await measure(30, () => client.query(rowsSql, [n])),
]);
results.push([
  `${n} rows x 7 columns, raw text in array rows (no decoding: the floor)`,
  await measure(30, () =>
    client.query({
      text: rowsSql,
      values: [n],
      rowMode: "array",
      types: { getTypeParser: () => (v) => v },
    }),
  ),
]);
results.push([
  `${n} rows x 7 columns, runtime runMany (prepared)`,
  await measure(30, () => runMany(client, manyRows, { n })),
]);
results.push([
  `${n} rows x 7 columns, runtime runMany (unprepared)`,
  await measure(30, () => runMany(client, manyRows, { n }, { prepare: false })),
]);
results.push([
  "1 row, node-postgres client.query with a parameter",
  await measure(2000, () => client.query("SELECT $1::int4 AS id, 'x'::text AS name", [1])),
]);
results.push([
  "1 row, runtime runOne (prepared)",
  await measure(2000, () => runOne(client, oneRow, { id: 1 })),
]);
results.push([
  "1 row, runtime runOne (unprepared)",
  await measure(2000, () => runOne(client, oneRow, { id: 1 }, { prepare: false })),
]);
await client.end();

const server = new URL(url);
const out = (line) => process.stdout.write(`${line}\n`);
out(`Node ${process.version}, server ${server.host}`);
out("");
out("| case | median ms |");
out("|---|---|");
for (const [label, ms] of results) out(`| ${label} | ${ms.toFixed(3)} |`);
