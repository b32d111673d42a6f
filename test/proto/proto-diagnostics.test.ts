/**
 * Bad proto inputs and bindings: each a precise diagnostic (code, file, line, message), and
 * handler files: user code survives regeneration byte for byte apart from appended stubs.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { generateProto } from "../../cli/src/proto/generate-proto.js";
import { protoConfig, usersGolden, usersProject } from "./proto-fixture.js";
import { usersModel } from "./users-model.js";

/** A temp project whose only proto is `text` at proto/acme/v1/t.proto. */
function project(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "svcgen-proto-"));
  mkdirSync(path.join(dir, "proto/acme/v1"), { recursive: true });
  writeFileSync(path.join(dir, "proto/acme/v1/t.proto"), text);
  return dir;
}

const usersProto = readFileSync(path.join(usersProject, "proto/acme/users/v1/users.proto"), "utf8");

/** The users proto with one edit, as a temp project. */
function editedUsers(from: string, to: string): string {
  expect(usersProto).toContain(from);
  return project(usersProto.replace(from, to));
}

describe("diagnostics", () => {
  test("a syntax error names the file, line and column", async () => {
    const dir = project('syntax = "proto3";\npackage acme.v1;\nmessage A {\n  int32 x = ;\n}\n');
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(out.files).toEqual([]);
    expect(out.diagnostics).toHaveLength(1);
    expect(out.diagnostics[0]).toMatchObject({
      severity: "error",
      code: "SVC300",
      file: "proto/acme/v1/t.proto",
      line: 4,
    });
  });

  test("an unknown import is reported at its line", async () => {
    const dir = project('syntax = "proto3";\npackage acme.v1;\nimport "nope/missing.proto";\n');
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(out.diagnostics[0]).toMatchObject({
      code: "SVC300",
      file: "proto/acme/v1/t.proto",
      line: 3,
    });
    expect(out.diagnostics[0]?.message).toContain("nope/missing.proto");
  });

  test("an unknown query name points at the option, with a suggestion", async () => {
    const dir = editedUsers('{query: "GetUser"}', '{query: "getuser"}');
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    const d = out.diagnostics.find((x) => x.code === "SVC301");
    expect(d).toMatchObject({ file: "proto/acme/v1/t.proto", line: 104, column: 5 });
    expect(d?.message).toBe("UserService.GetUser: query getuser does not exist");
    expect(d?.hint).toContain("Did you mean GetUser");
  });

  test(":copyfrom binds only to a client-streaming RPC, and only :copyfrom does", async () => {
    const unary = editedUsers("rpc ImportTags(stream UserTag)", "rpc ImportTags(UserTag)");
    const a = await generateProto(protoConfig(unary), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(a.diagnostics.map((d) => [d.code, d.message])).toEqual([
      [
        "SVC304",
        "UserService.ImportTags: query CopyUserTags is :copyfrom, so the RPC must be client-streaming (one request message per row)",
      ],
    ]);
    const streamed = editedUsers('{query: "CopyUserTags"}', '{query: "UsersByStatus"}');
    const b = await generateProto(protoConfig(streamed), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(b.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["SVC304", "UserService.ImportTags: a client-streaming RPC cannot be bound to a :many query"],
    ]);
  });

  test("a type mismatch names the proto field, the column and both types", async () => {
    const dir = editedUsers("message User {\n  int64 id = 1;", "message User {\n  int32 id = 1;");
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    const msgs = out.diagnostics.filter((x) => x.code === "SVC302").map((x) => x.message);
    expect(msgs).toContain(
      "UserService.GetUser: proto field id (int32) does not fit column id (bigint) of query GetUser",
    );
    // At the field's declaration (`int32 id = 1;` in message User), not at the RPC.
    const d = out.diagnostics.find((x) =>
      x.message.startsWith("UserService.GetUser: proto field id"),
    );
    expect(d).toMatchObject({ file: "proto/acme/v1/t.proto", line: 21, column: 3 });
  });

  test("a nullable column into a non-optional field is an error", async () => {
    const dir = editedUsers("optional int32 age = 4;", "int32 age = 4;");
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    const d = out.diagnostics.find((x) => x.code === "SVC302" && x.message.includes("age"));
    expect(d?.message).toBe(
      "UserService.GetUser: column age (integer) of query GetUser is nullable, but proto field User.age (int32) cannot be unset",
    );
    expect(d).toMatchObject({ file: "proto/acme/v1/t.proto", line: 24, column: 3 });
  });

  test("a missing request field and a missing column are reported", async () => {
    const dir = editedUsers(
      "message GetUserRequest {\n  int64 id = 1;",
      "message GetUserRequest {\n  int64 user_key = 1;",
    );
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(out.diagnostics.map((d) => d.message)).toContain(
      "UserService.GetUser: query GetUser parameter id (bigint) has no request field id in acme.users.v1.GetUserRequest",
    );
    const dir2 = editedUsers("bool active = 12;", "bool active = 12;\n  string nickname = 14;");
    const out2 = await generateProto(protoConfig(dir2), usersModel, {
      readHandlerFile: () => undefined,
    });
    expect(out2.diagnostics.map((d) => d.message)).toContain(
      "UserService.GetUser: response field User.nickname (string) has no column in query GetUser",
    );
  });
});

describe("handler files", () => {
  const golden = readFileSync(path.join(usersGolden, "src/user-service/handlers.ts"), "utf8");

  test("an unchanged proto leaves the user's file alone", async () => {
    const edited = golden.replace("  constructor(", "  // my note\n  constructor(");
    const out = await generateProto(protoConfig(usersProject), usersModel, {
      readHandlerFile: () => edited,
    });
    expect(out.handlerFiles).toEqual([]);
  });

  test("a new RPC appends a stub; every other character is preserved", async () => {
    const userEdits = golden
      .replace(
        'import type { Pool } from "pg";',
        'import type { Pool } from "pg";\nimport { helper } from "./helper.js"; // mine',
      )
      .replace(
        "  uploadTags(",
        "  /** Mine now. */\n  async    uploadTagsMine(): Promise<void> {\n\thelper( );\n  }\n\n  uploadTags(",
      );
    const dir = editedUsers(
      "  rpc Chat(stream ChatMessage) returns (stream ChatMessage);",
      "  rpc Chat(stream ChatMessage) returns (stream ChatMessage);\n  rpc Ping(Tag) returns (Tag);",
    );
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => userEdits,
    });
    expect(out.handlerFiles).toHaveLength(1);
    const merged = out.handlerFiles[0]?.content ?? "";
    const stub = [
      "",
      "  ping(",
      '    _request: Parameters<UserServiceHandlers["ping"]>[0],',
      "    _ctx: CallContext,",
      '  ): ReturnType<UserServiceHandlers["ping"]> {',
      '    throw unimplemented("acme.users.v1.UserService/Ping");',
      "  }",
      "",
    ].join("\n");
    const close = userEdits.lastIndexOf("}");
    expect(merged).toBe(userEdits.slice(0, close) + stub + userEdits.slice(close));
    expect(out.handlerFiles[0]?.created).toBe(false);
  });

  test("a removed RPC is a warning and the user's code is untouched", async () => {
    const dir = editedUsers("  rpc Chat(stream ChatMessage) returns (stream ChatMessage);\n", "");
    const out = await generateProto(protoConfig(dir), usersModel, {
      readHandlerFile: () => golden,
    });
    expect(out.handlerFiles).toEqual([]);
    const d = out.diagnostics.find((x) => x.code === "SVC305");
    expect(d).toMatchObject({ severity: "warning", file: "src/user-service/handlers.ts" });
    expect(d?.message).toContain(
      "chat handles an RPC that acme.users.v1.UserService no longer has",
    );
  });

  test("private, protected and static helpers taking a CallContext are not taken for RPCs", async () => {
    const close = golden.lastIndexOf("}");
    const helpers = [
      "",
      "  private async owned(_id: string, _ctx: CallContext): Promise<void> {}",
      "  protected guard(_ctx: CallContext): void {}",
      "  static of(_ctx: CallContext): void {}",
      "  async #hidden(_ctx: CallContext): Promise<void> {}",
      "",
    ].join("\n");
    const out = await generateProto(protoConfig(editedUsers("", "")), usersModel, {
      readHandlerFile: () => golden.slice(0, close) + helpers + golden.slice(close),
    });
    expect(out.diagnostics.filter((x) => x.code === "SVC305")).toEqual([]);
    expect(out.handlerFiles).toEqual([]);
  });
});
