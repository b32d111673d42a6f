/**
 * Constraint names shared by several tables, end to end: PostgreSQL names constraints per
 * table (index-backed ones per schema), so `payments` and `refunds` each have a check
 * `amount_positive` and a foreign key `account_ref` on different columns, and `billing.payments`
 * repeats `public.payments`' names in another schema. The project is generated with
 * `svcgen generate`, served by its generated entry over gRPC against a real PostgreSQL, and a
 * real violation of each constraint reaches the client with its own table's code, reason and
 * field, and no SQL in the status.
 */
import { type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { detailsOf, outcome } from "../runtime/service-client.js";
import { type ErrorMapProject, serveErrorMapProject } from "./error-map-project.js";

const migration = `
CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE payments (
  id int PRIMARY KEY,
  payer_id int NOT NULL CONSTRAINT account_ref REFERENCES accounts (id),
  amount_cents int NOT NULL CONSTRAINT amount_positive CHECK (amount_cents > 0)
);
CREATE TABLE refunds (
  id int PRIMARY KEY,
  account_id int NOT NULL CONSTRAINT account_ref REFERENCES accounts (id),
  refund_cents int NOT NULL CONSTRAINT amount_positive CHECK (refund_cents > 0)
);
CREATE SCHEMA billing;
CREATE TABLE billing.payments (
  id int PRIMARY KEY,
  total int NOT NULL CONSTRAINT amount_positive CHECK (total > 0)
);
`;

const queries = `-- name: CreatePayment :exec
INSERT INTO payments (id, payer_id, amount_cents) VALUES (@id, @payer_id, @amount_cents);

-- name: CreateRefund :exec
INSERT INTO refunds (id, account_id, refund_cents) VALUES (@id, @account_id, @refund_cents);

-- name: CreateBillingPayment :exec
INSERT INTO billing.payments (id, total) VALUES (@id, @total);
`;

const proto = `syntax = "proto3";
package ledger.v1;
import "google/protobuf/empty.proto";
import "svcgen/v1/options.proto";

service LedgerService {
  option (svcgen.v1.service) = { auth: { public: true } };
  rpc CreatePayment(CreatePaymentRequest) returns (google.protobuf.Empty) {
    option (svcgen.v1.method) = { query: "CreatePayment" };
  }
  rpc CreateRefund(CreateRefundRequest) returns (google.protobuf.Empty) {
    option (svcgen.v1.method) = { query: "CreateRefund" };
  }
  rpc CreateBillingPayment(CreateBillingPaymentRequest) returns (google.protobuf.Empty) {
    option (svcgen.v1.method) = { query: "CreateBillingPayment" };
  }
}
message CreatePaymentRequest { int32 id = 1; int32 payer_id = 2; int32 amount_cents = 3; }
message CreateRefundRequest { int32 id = 1; int32 account_id = 2; int32 refund_cents = 3; }
message CreateBillingPaymentRequest { int32 id = 1; int32 total = 2; }
`;

interface LedgerClient {
  createPayment(r: { id: number; payerId: number; amountCents: number }): Promise<unknown>;
  createRefund(r: { id: number; accountId: number; refundCents: number }): Promise<unknown>;
  createBillingPayment(r: { id: number; total: number }): Promise<unknown>;
  close(): void;
}

let project: ErrorMapProject<LedgerClient>;
let client: LedgerClient;
let errorsTs: string;

beforeAll(async () => {
  project = await serveErrorMapProject<LedgerClient>(
    "error-map-clash",
    "ledger",
    "ledger-service",
    { migration, queries, proto, errorsDomain: "ledger.example" },
    "INSERT INTO accounts (id) VALUES (1);",
  );
  ({ client, errorsTs } = project);
}, 120_000);

afterAll(async () => {
  await project?.close();
});

/** How a failed call reached the client, and that none of the SQL did. */
async function failure(call: () => Promise<unknown>) {
  const { code, error } = await outcome(call);
  const d = detailsOf(error as ServiceError | undefined);
  // The constraint's names, definition and SQL stay on the server (reasons are our own words).
  expect(d.text).not.toMatch(
    /INSERT|VALUES|CHECK|REFERENCES|> 0|amount_positive|account_ref|violates/,
  );
  return { code, message: d.message, reason: d.reason, domain: d.domain, fields: d.fields };
}

describe("constraint names several tables share", () => {
  test("gen/errors.ts scopes shared names by table and keeps unique ones bare", () => {
    const tables = errorsTs.slice(errorsTs.indexOf("  tables: {"));
    const bare = errorsTs.slice(0, errorsTs.indexOf("  tables: {"));
    for (const key of ["accounts_pkey", "refunds_pkey", '"payments.amount_cents"'])
      expect(bare).toContain(`    ${key}: {`);
    for (const key of ["amount_positive", "account_ref", "payments_pkey", '"payments.id"'])
      expect(bare).not.toContain(`    ${key}: {`);
    for (const scope of ['"billing.payments"', '"public.payments"', '"public.refunds"'])
      expect(tables).toContain(`    ${scope}: {`);
    expect(bare).toContain('reason: "REFUNDS_PKEY"');
    expect(bare).toContain('reason: "PAYMENTS_AMOUNT_CENTS_NOT_NULL"');
    expect(tables).toContain('reason: "PUBLIC_PAYMENTS_ID_NOT_NULL"');
  });

  test("check: each table's own field and reason", async () => {
    expect(
      await failure(() => client.createPayment({ id: 1, payerId: 1, amountCents: 0 })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "The amount_cents of the payment is not valid",
      reason: "PUBLIC_PAYMENTS_AMOUNT_POSITIVE",
      domain: "ledger.example",
      fields: ["amount_cents"],
    });
    expect(
      await failure(() => client.createRefund({ id: 1, accountId: 1, refundCents: -5 })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "The refund_cents of the refund is not valid",
      reason: "REFUNDS_AMOUNT_POSITIVE",
      domain: "ledger.example",
      fields: ["refund_cents"],
    });
    expect(await failure(() => client.createBillingPayment({ id: 1, total: 0 }))).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "The total of the payment is not valid",
      reason: "BILLING_PAYMENTS_AMOUNT_POSITIVE",
      domain: "ledger.example",
      fields: ["total"],
    });
  });

  test("foreign key: each table's own field and reason", async () => {
    expect(
      await failure(() => client.createPayment({ id: 2, payerId: 9, amountCents: 5 })),
    ).toEqual({
      code: status.FAILED_PRECONDITION,
      message: "The account does not exist, or a payment still refers to it",
      reason: "PAYMENTS_ACCOUNT_REF",
      domain: "ledger.example",
      fields: ["payer_id"],
    });
    expect(
      await failure(() => client.createRefund({ id: 2, accountId: 9, refundCents: 5 })),
    ).toEqual({
      code: status.FAILED_PRECONDITION,
      message: "The account does not exist, or a refund still refers to it",
      reason: "REFUNDS_ACCOUNT_REF",
      domain: "ledger.example",
      fields: ["account_id"],
    });
  });

  test("primary key shared across schemas, and a name only one table has", async () => {
    await client.createPayment({ id: 3, payerId: 1, amountCents: 5 });
    await client.createBillingPayment({ id: 3, total: 5 });
    await client.createRefund({ id: 3, accountId: 1, refundCents: 5 });
    expect(
      await failure(() => client.createPayment({ id: 3, payerId: 1, amountCents: 6 })),
    ).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A payment with this id already exists",
      reason: "PUBLIC_PAYMENTS_PKEY",
      domain: "ledger.example",
      fields: ["id"],
    });
    expect(await failure(() => client.createBillingPayment({ id: 3, total: 6 }))).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A payment with this id already exists",
      reason: "BILLING_PAYMENTS_PKEY",
      domain: "ledger.example",
      fields: ["id"],
    });
    expect(
      await failure(() => client.createRefund({ id: 3, accountId: 1, refundCents: 6 })),
    ).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A refund with this id already exists",
      reason: "REFUNDS_PKEY",
      domain: "ledger.example",
      fields: ["id"],
    });
  });
});
