/** The relay's per-key ordering rule, on its own: which claimed rows may be published now. */
import { describe, expect, test } from "vitest";
import { type OutboxRow, orderedPrefix } from "./outbox-relay.js";

function row(seq: number, key: string): OutboxRow {
  return {
    seq: String(seq),
    id: `id-${seq}`,
    topic: "t",
    key,
    payload: Buffer.alloc(0),
    content_type: "x",
    headers: {},
    created_at: new Date(0),
    attempts: 0,
  };
}
const pending = (...rows: [number, string][]) =>
  rows.map(([seq, key]) => ({ seq: String(seq), key }));
const seqs = (rows: OutboxRow[]) => rows.map((r) => Number(r.seq));

describe("orderedPrefix", () => {
  test("publishes a key's rows when the batch holds its oldest undelivered rows without a gap", () => {
    const batch = [row(1, "a"), row(2, "b"), row(3, "a")];
    expect(seqs(orderedPrefix(batch, pending([1, "a"], [2, "b"], [3, "a"])))).toEqual([1, 2, 3]);
  });

  test("holds a key whose oldest undelivered row is elsewhere (another relay, a retry)", () => {
    const batch = [row(5, "a"), row(6, "b")];
    expect(seqs(orderedPrefix(batch, pending([4, "a"], [5, "a"], [6, "b"])))).toEqual([6]);
  });

  test("stops a key at the first gap inside the batch", () => {
    // Row 3 of key a is held by another relay: 1 may go, 4 must wait for 3.
    const batch = [row(1, "a"), row(2, "b"), row(4, "a")];
    const out = orderedPrefix(batch, pending([1, "a"], [2, "b"], [3, "a"], [4, "a"]));
    expect(seqs(out)).toEqual([1, 2]);
  });

  test("never holds rows without a key", () => {
    const batch = [row(7, ""), row(8, "a")];
    expect(seqs(orderedPrefix(batch, pending([1, "a"], [8, "a"])))).toEqual([7]);
  });
});
