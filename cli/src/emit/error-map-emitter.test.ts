/**
 * The error map's keys and reasons when constraint names repeat across tables: unique names
 * keep their bare key and reason, shared ones are scoped by `schema.table`, and the file is the
 * same whatever order the catalog listed the constraints in.
 */
import { describe, expect, test } from "vitest";
import { buildModel } from "../analyse/model-builder.js";
import type { ConstraintModel } from "../model.js";
import { emitErrorMap, errorRules } from "./error-map-emitter.js";

const constraints: ConstraintModel[] = [
  {
    name: "amount_positive",
    kind: "check",
    schema: "public",
    table: "payments",
    columns: ["amount"],
  },
  {
    name: "amount_positive",
    kind: "check",
    schema: "public",
    table: "refunds",
    columns: ["refund"],
  },
  {
    name: "amount_positive",
    kind: "check",
    schema: "billing",
    table: "payments",
    columns: ["total"],
  },
  {
    name: "payments_pkey",
    kind: "primary_key",
    schema: "public",
    table: "payments",
    columns: ["id"],
  },
  {
    name: "payments_pkey",
    kind: "primary_key",
    schema: "billing",
    table: "payments",
    columns: ["id"],
  },
  {
    name: "refunds_pkey",
    kind: "primary_key",
    schema: "public",
    table: "refunds",
    columns: ["id"],
  },
  {
    name: "payments_id_not_null",
    kind: "not_null",
    schema: "public",
    table: "payments",
    columns: ["id"],
  },
  {
    name: "payments_id_not_null",
    kind: "not_null",
    schema: "billing",
    table: "payments",
    columns: ["id"],
  },
  {
    name: "refunds_id_not_null",
    kind: "not_null",
    schema: "public",
    table: "refunds",
    columns: ["id"],
  },
  // Two tables whose names each begin the shared name: the short reasons would read alike.
  { name: "pay_x_check", kind: "check", schema: "public", table: "pay", columns: [] },
  { name: "pay_x_check", kind: "check", schema: "public", table: "pay_x", columns: [] },
];

function keys(list: readonly ConstraintModel[]) {
  return errorRules(buildModel({ queries: [], constraints: list })).map(
    (r) => `${r.scope ?? "-"} ${r.key} ${r.reason}`,
  );
}

describe("errorRules with shared constraint names", () => {
  test("unique keys stay bare with their reason; shared keys get one scoped rule per table", () => {
    expect(keys(constraints).sort()).toEqual(
      [
        "billing.payments amount_positive BILLING_PAYMENTS_AMOUNT_POSITIVE",
        "billing.payments payments_pkey BILLING_PAYMENTS_PKEY",
        "billing.payments payments.id BILLING_PAYMENTS_ID_NOT_NULL",
        "public.payments amount_positive PUBLIC_PAYMENTS_AMOUNT_POSITIVE",
        "public.payments payments_pkey PUBLIC_PAYMENTS_PKEY",
        "public.payments payments.id PUBLIC_PAYMENTS_ID_NOT_NULL",
        "public.refunds amount_positive REFUNDS_AMOUNT_POSITIVE",
        "public.pay pay_x_check PUBLIC_PAY_PAY_X_CHECK",
        "public.pay_x pay_x_check PUBLIC_PAY_X_PAY_X_CHECK",
        "- refunds_pkey REFUNDS_PKEY",
        "- refunds.id REFUNDS_ID_NOT_NULL",
      ].sort(),
    );
  });

  test("the file is the same for any order of the catalog's rows", () => {
    const emit = (list: readonly ConstraintModel[]) =>
      emitErrorMap(buildModel({ queries: [], constraints: list }), { out: "gen", domain: "d" })
        .content;
    const first = emit(constraints);
    expect(emit([...constraints].reverse())).toBe(first);
    expect(first).toContain('  tables: {\n    "billing.payments": {\n      payments_pkey: {');
  });

  test("a constraint named __proto__ is a property of the map, not its prototype", () => {
    const c: ConstraintModel = {
      name: "__proto__",
      kind: "check",
      schema: "public",
      table: "t",
      columns: [],
    };
    const file = emitErrorMap(buildModel({ queries: [], constraints: [c] }), {
      out: "gen",
      domain: "d",
    }).content;
    expect(file).toContain('    ["__proto__"]: {');
  });
});
