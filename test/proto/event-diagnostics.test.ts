/**
 * Bad event declarations: each a located diagnostic at the declaring option (SVC308 errors,
 * SVC309 for a consumed topic no RPC emits), and consumer stubs spliced into an existing
 * handler file without touching what the user wrote.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import type { Diagnostic } from "../../cli/src/diagnostics.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { runCli } from "../cli/cli-project.js";
import { serverUrl } from "../db.js";
import { eventsConfig, eventsGolden, eventsModel, eventsProject } from "./events-model.js";

const ordersFile = "proto/shop/orders/v1/orders.proto";
const mailerFile = "proto/shop/mailer/v1/mailer.proto";

/** The events fixture's protos in a temp project, with `edits` (file -> [from, to]) applied. */
function edited(edits: readonly (readonly [string, string, string])[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "svcgen-events-"));
  cpSync(path.join(eventsProject, "proto"), path.join(dir, "proto"), { recursive: true });
  for (const [file, from, to] of edits) {
    const p = path.join(dir, file);
    const text = readFileSync(p, "utf8");
    expect(text).toContain(from);
    writeFileSync(p, text.replace(from, to));
  }
  return dir;
}

/** The diagnostics of generating the edited fixture. */
async function diagnostics(
  ...edits: (readonly [string, string, string])[]
): Promise<{ diagnostics: Diagnostic[]; files: number }> {
  const out = await generateProto(eventsConfig(edited(edits)), eventsModel, {
    readHandlerFile: () => undefined,
  });
  return { diagnostics: out.diagnostics, files: out.files.length };
}

/** Code, file, line and message of each diagnostic. */
function brief(ds: readonly Diagnostic[]): (string | number | undefined)[][] {
  return ds.map((d) => [d.severity, d.code, d.file, d.line, d.message]);
}

describe("event declaration diagnostics", () => {
  test("svcgen generate prints it with the source line and exits 1, writing nothing", async () => {
    const dir = edited([
      [ordersFile, 'message: "shop.events.v1.OrderPlaced"', 'message: "shop.events.v1.OrderPlacd"'],
    ]);
    cpSync(path.join(eventsProject, "sql"), path.join(dir, "sql"), { recursive: true });
    writeFileSync(
      path.join(dir, "svcgen.yaml"),
      "schema: sql/schema.sql\nqueries: sql/queries\nout: gen\nproto: proto\n",
    );
    const r = await runCli(dir, ["generate", "--no-cache"], { DATABASE_URL: serverUrl() });
    expect(r.code).toBe(1);
    const at = r.err.indexOf(`${ordersFile}:15:5: error SVC308:`);
    expect(at, r.err).toBeGreaterThanOrEqual(0);
    expect(r.err.slice(at).split("\n").slice(0, 4)).toEqual([
      `${ordersFile}:15:5: error SVC308: OrderService.PlaceOrder: event order.placed: message shop.events.v1.OrderPlacd does not exist`,
      "15 |     option (svcgen.v1.method) = {",
      "   |     ^",
      "  hint: Give the full name of a message of the build (package.Message)",
    ]);
    expect(existsSync(path.join(dir, "gen"))).toBe(false);
  });

  test("an unknown payload message, at the RPC's option", async () => {
    // (Its consumer gets no second diagnostic for the broken producer.)
    const r = await diagnostics([
      ordersFile,
      'message: "shop.events.v1.OrderPlaced"',
      'message: "shop.events.v1.OrderPlacd"',
    ]);
    expect(brief(r.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        ordersFile,
        15,
        "OrderService.PlaceOrder: event order.placed: message shop.events.v1.OrderPlacd does not exist",
      ],
    ]);
  });

  test("a key field that does not exist, or is not a string or integer", async () => {
    const missing = await diagnostics([ordersFile, 'key: "id"', 'key: "order_number"']);
    expect(brief(missing.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        ordersFile,
        15,
        "OrderService.PlaceOrder: event order.placed: key there is no field order_number in shop.orders.v1.Order or shop.orders.v1.PlaceOrderRequest",
      ],
    ]);
    expect(missing.diagnostics[0]?.hint).toBe(
      "Name a string or integer field of the request or response",
    );
    const timestamp = await diagnostics([ordersFile, 'key: "id"', 'key: "response.created_at"']);
    expect(brief(timestamp.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        ordersFile,
        15,
        "OrderService.PlaceOrder: event order.placed: key response.created_at is google.protobuf.Timestamp; a key must be a string or integer field",
      ],
    ]);
  });

  test("a payload field without a source, and one whose source has another type", async () => {
    const r = await diagnostics([
      ordersFile,
      '{ field: "placed_at", from: "response.created_at" }',
      '{ field: "customer", from: "response.total_cents" }',
    ]);
    expect(brief(r.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        ordersFile,
        15,
        "OrderService.PlaceOrder: event order.placed: payload field OrderPlaced.customer (string) does not fit response.total_cents (int32)",
      ],
      [
        "error",
        "SVC308",
        ordersFile,
        15,
        "OrderService.PlaceOrder: event order.placed: payload field OrderPlaced.placed_at has no field of the same name in shop.orders.v1.Order or shop.orders.v1.PlaceOrderRequest",
      ],
    ]);
    expect(r.diagnostics[1]?.hint).toBe(
      'Map it with fields: [{ field: "placed_at", from: "request.<field>" }]',
    );
  });

  test("a consumer whose payload type differs from the producer's is an error", async () => {
    const r = await diagnostics([
      mailerFile,
      '{ topic: "order.cancelled" }',
      '{ topic: "order.cancelled", message: "shop.events.v1.OrderShipped" }',
    ]);
    expect(brief(r.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        mailerFile,
        9,
        "MailerService: consumes order.cancelled as shop.events.v1.OrderShipped, but OrderService.CancelOrder emits it as shop.orders.v1.CancelOrderRequest",
      ],
    ]);
  });

  test("a consumed topic from another project is a warning when its message is given", async () => {
    const r = await diagnostics([
      mailerFile,
      '{ topic: "order.placed" },',
      '{ topic: "order.placed" },\n      { topic: "payment.settled", message: "shop.events.v1.OrderShipped" },',
    ]);
    expect(brief(r.diagnostics)).toEqual([
      [
        "warning",
        "SVC309",
        mailerFile,
        9,
        "MailerService: consumes payment.settled, but no RPC of this project emits it",
      ],
    ]);
    expect(r.files).toBeGreaterThan(0);
  });

  test("one topic with two payload types, a bad topic, a streaming producer, a handler clash", async () => {
    const r = await diagnostics(
      [
        ordersFile,
        'topic: "order.cancelled", message: "shop.orders.v1.CancelOrderRequest"',
        'topic: "order.placed", message: "shop.orders.v1.CancelOrderRequest"',
      ],
      [ordersFile, 'topic: "order.shipped"', 'topic: "order shipped"'],
      [mailerFile, 'handler: "shipped"', 'handler: "listMails"'],
    );
    expect(brief(r.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        ordersFile,
        28,
        "OrderService.CancelOrder: topic order.placed carries shop.orders.v1.CancelOrderRequest here but shop.events.v1.OrderPlaced in OrderService.PlaceOrder",
      ],
      [
        "error",
        "SVC308",
        ordersFile,
        36,
        'OrderService.ShipOrder: topic "order shipped" is not dot-separated words of letters, digits, _ and -',
      ],
      [
        "warning",
        "SVC309",
        mailerFile,
        9,
        "MailerService: consumes order.cancelled, but no RPC of this project emits it",
      ],
      [
        "error",
        "SVC308",
        mailerFile,
        9,
        "MailerService: consumes order.cancelled without a message type, and no producer says which",
      ],
      [
        "warning",
        "SVC309",
        mailerFile,
        9,
        "MailerService: consumes order.shipped, but no RPC of this project emits it",
      ],
      [
        "error",
        "SVC308",
        mailerFile,
        9,
        "MailerService: consumes order.shipped without a message type, and no producer says which",
      ],
    ]);
    const streaming = await diagnostics([
      mailerFile,
      'rpc ListMails(ListMailsRequest) returns (ListMailsResponse) {\n    option (svcgen.v1.method) = { query: "ListMails" };',
      'rpc ListMails(ListMailsRequest) returns (stream Mail) {\n    option (svcgen.v1.method) = { query: "ListMails", emits: [{ topic: "mails.listed" }] };',
    ]);
    expect(brief(streaming.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        mailerFile,
        19,
        "MailerService.ListMails: only a unary RPC bound to a query can emit events; this one is server-streaming",
      ],
    ]);
    const clash = await diagnostics([mailerFile, 'handler: "shipped"', 'handler: "listMails"']);
    expect(brief(clash.diagnostics)).toEqual([
      [
        "error",
        "SVC308",
        mailerFile,
        9,
        "MailerService: handler listMails of order.shipped has the name of another method of the handler class",
      ],
    ]);
  });

  test("a new consumed topic adds its stub to the user's handler file and changes nothing else", async () => {
    const dir = edited([[mailerFile, '{ topic: "order.placed" },', ""]]);
    const before = await generateProto(eventsConfig(dir), eventsModel, {
      readHandlerFile: () => undefined,
    });
    const created = before.handlerFiles.find((f) => f.path.endsWith("mailer-service/handlers.ts"));
    expect(created?.content).not.toContain("onOrderPlaced");
    // The user implements something, then the proto gains the topic back.
    const userText = created?.content.replace(
      'throw new Error("MailerService.shipped: handling order.shipped is not implemented yet");',
      "await Promise.resolve(); // mine",
    );
    const after = await generateProto(eventsConfig(), eventsModel, {
      readHandlerFile: (p) => (p.endsWith("mailer-service/handlers.ts") ? userText : undefined),
    });
    const merged = after.handlerFiles.find((f) => f.path.endsWith("mailer-service/handlers.ts"));
    expect(after.diagnostics).toEqual([]);
    expect(merged?.created).toBe(false);
    expect(merged?.content).toContain("// mine");
    expect(merged?.content.startsWith((userText ?? "").slice(0, -2))).toBe(true);
    const golden = readFileSync(path.join(eventsGolden, "src/mailer-service/handlers.ts"), "utf8");
    const stub = golden.slice(
      golden.indexOf("  onOrderPlaced("),
      golden.indexOf("  onOrderCancelled("),
    );
    expect(merged?.content).toContain(stub.trimEnd());
  });
});
