/**
 * Golden test of the code generated from event declarations (fixtures/proto/events: an order
 * service that emits, a mailer service that consumes): the emit helpers and transactional
 * bound producers, the consumer methods of the handler interface and the `<service>Events`
 * registrations, the handler skeletons with consumer stubs, and the server entries passing the
 * events; compared byte for byte with fixtures/golden/grpc/events (regenerate with
 * UPDATE_GOLDEN=1) and type-checked under the strict flags with tsc.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { buildModel } from "../../cli/src/analyse/model-builder.js";
import { emitErrorMap } from "../../cli/src/emit/error-map-emitter.js";
import { emitQueryModules } from "../../cli/src/emit/query-module-emitter.js";
import { emitServerEntries } from "../../cli/src/emit/server-entry-emitter.js";
import { serialiseManifest } from "../../cli/src/manifest.js";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { eventsConfig, eventsGolden, eventsModel } from "./events-model.js";
import { repoRoot } from "./proto-fixture.js";

const update = process.env.UPDATE_GOLDEN === "1";
const golden = eventsGolden;

describe("golden output of the events fixture", async () => {
  const config = eventsConfig();
  const out = await generateProto(config, eventsModel, { readHandlerFile: () => undefined });
  const model = buildModel({ ...eventsModel, services: out.services });
  const files = [
    ...emitQueryModules(model, { out: "gen" }),
    emitErrorMap(model, { out: "gen", domain: "shop" }),
    ...emitServerEntries(model, { out: "gen", handlersDir: "src", eventsTransport: "nats" }),
    { path: "gen/svcgen-manifest.json", content: serialiseManifest(model) },
    ...out.files,
    ...out.handlerFiles,
  ];

  test("no diagnostics", () => {
    expect(out.diagnostics).toEqual([]);
  });

  test("the Model holds the declarations", () => {
    const orders = model.services.find((s) => s.name === "OrderService");
    const place = orders?.methods.find((m) => m.name === "PlaceOrder");
    expect(place?.emits?.[0]).toMatchObject({
      topic: "order.placed",
      name: "OrderPlaced",
      message: { typeName: "shop.events.v1.OrderPlaced" },
      key: { from: "response", field: { name: "id" } },
      payload: { kind: "fields" },
    });
    const mailer = model.services.find((s) => s.name === "MailerService");
    expect(mailer?.consumer).toEqual({
      group: "shop.mailer.v1.MailerService",
      events: [
        expect.objectContaining({ topic: "order.placed", handler: "onOrderPlaced" }),
        expect.objectContaining({
          topic: "order.cancelled",
          handler: "onOrderCancelled",
          message: expect.objectContaining({ typeName: "shop.orders.v1.CancelOrderRequest" }),
        }),
        expect.objectContaining({ topic: "order.shipped", handler: "shipped" }),
      ],
    });
  });

  for (const f of files) {
    test(`${f.path} matches the golden file`, () => {
      const file = path.join(golden, f.path);
      if (update) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, f.content);
      }
      expect(f.content).toBe(readFileSync(file, "utf8"));
    });
  }

  test("golden files type-check under the strict flags", () => {
    const tsc = path.join(repoRoot, "node_modules/typescript/bin/tsc");
    const run = () =>
      execFileSync(process.execPath, [tsc, "-p", path.join(golden, "tsconfig.json")], {
        encoding: "utf8",
      });
    expect(run).not.toThrow();
  });
});
