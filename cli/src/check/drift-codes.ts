/**
 * Diagnostic codes of `svcgen check` (the SVC2xx range reserved in diagnostics.ts). Kept here,
 * next to the checks that produce them, so the shared Codes table stays untouched.
 */
export const DriftCodes = {
  /** A query that prepared when the code was generated no longer prepares on the database. */
  noLongerPrepares: "SVC200",
  /** A result column's nullability differs from the manifest. */
  nullability: "SVC201",
  /** A result column's Postgres type differs from the manifest. */
  columnType: "SVC202",
  /** Result columns were added, removed, renamed or reordered. */
  columnSet: "SVC203",
  /** A parameter's type, nullability or the number of parameters differs. */
  parameter: "SVC204",
  /** An enum used by a query has other labels than when the code was generated. */
  enumLabels: "SVC205",
  /** A generated file is out of date with the inputs (as `generate --check`). */
  generatedOutOfDate: "SVC206",
  /** The live schema differs from what the migrations produce. */
  schemaDrift: "SVC207",
  /** The manifest is missing or unreadable. */
  manifest: "SVC208",
} as const;
