/**
 * `svcgen load` on client-streaming and bidi methods, against a grpc-js server the test starts
 * (real HTTP/2 on loopback) for a proto built by buf as the command builds a project's: every
 * call sends exactly `streamCount` messages from the template, `{{seq}}` numbering the
 * messages, and reads every reply; the report's counts match what the server saw.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  create,
  createFileRegistry,
  type DescMethod,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileTemplate, runLoad } from "../../cli/src/commands/load-command.js";
import { buildProto } from "../../cli/src/proto/buf-build.js";

const proto = `syntax = "proto3";
package loadtest.v1;

message Item {
  string id = 1;
  int64 n = 2;
}

message Summary {
  int64 count = 1;
}

service Echo {
  rpc Collect(stream Item) returns (Summary);
  rpc Chat(stream Item) returns (stream Item);
}
`;

let dir: string;
let server: Server;
let target: string;
let echo: DescService;
const seenIds: string[] = [];

function method(name: string): DescMethod {
  const m = echo.methods.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no method ${name}`);
  return m;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "svcgen-load-stream-"));
  await mkdir(join(dir, "proto", "loadtest", "v1"), { recursive: true });
  await writeFile(join(dir, "proto", "loadtest", "v1", "echo.proto"), proto);
  const { build, diagnostics } = await buildProto([join(dir, "proto")], dir);
  expect(diagnostics).toEqual([]);
  if (build === undefined) throw new Error("no build");
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...build.files] }));
  const found = registry.getService("loadtest.v1.Echo");
  if (found === undefined) throw new Error("no service");
  echo = found;
  const item = method("Collect").input;
  const summary = method("Collect").output;
  const raw = (b: Buffer) => b;
  server = new Server();
  server.addService(
    {
      Collect: {
        path: "/loadtest.v1.Echo/Collect",
        requestStream: true,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
      Chat: {
        path: "/loadtest.v1.Echo/Chat",
        requestStream: true,
        responseStream: true,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Collect: (call: ServerReadableStream<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => {
        let count = 0n;
        call.on("data", (b: Buffer) => {
          seenIds.push(String((fromBinary(item, b) as unknown as { id: string }).id));
          count++;
        });
        call.on("end", () => {
          reply(null, Buffer.from(toBinary(summary, create(summary, { count }))));
        });
      },
      Chat: (call: ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (b: Buffer) => {
          seenIds.push(String((fromBinary(item, b) as unknown as { id: string }).id));
          // Two replies per message: the reader must take them all.
          call.write(b);
          call.write(b);
        });
        call.on("end", () => call.end());
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  target = `127.0.0.1:${port}`;
});

afterAll(async () => {
  server?.forceShutdown();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("svcgen load on streams", () => {
  test("client streaming: each call sends --stream-count messages, {{seq}} numbering them", async () => {
    seenIds.length = 0;
    const m = method("Collect");
    const report = await runLoad({
      target,
      method: m,
      template: compileTemplate('{"id": "m{{seq}}", "n": 1}', m.input),
      calls: 20,
      concurrency: 4,
      streamCount: 5,
    });
    expect(report.calls).toBe(20);
    expect(report.statuses).toEqual({ OK: 20 });
    expect(report.messages).toEqual({ sent: 100, received: 20 });
    expect(seenIds.length).toBe(100);
    expect(new Set(seenIds)).toEqual(new Set(Array.from({ length: 100 }, (_, i) => `m${i}`)));
  });

  test("bidi: every message sent and every reply read; large streams respect backpressure", async () => {
    seenIds.length = 0;
    const m = method("Chat");
    const report = await runLoad({
      target,
      method: m,
      template: compileTemplate(JSON.stringify({ id: "x".repeat(32 * 1024) }), m.input),
      calls: 6,
      concurrency: 3,
      streamCount: 200,
    });
    expect(report.statuses).toEqual({ OK: 6 });
    expect(report.messages).toEqual({ sent: 1200, received: 2400 });
    expect(seenIds.length).toBe(1200);
  });
});
