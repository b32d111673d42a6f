/**
 * The validation step skips message types that declare no `buf.validate` rule anywhere (a
 * verdict computed once per type), and still validates every type that has one, also when
 * the rule sits on a nested message reached through a field.
 */
import { create, createFileRegistry, type DescMessage, type Message } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  StructSchema,
} from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { status } from "@grpc/grpc-js";
import { isRpcError } from "@svcgen/runtime/grpc";
import { expect, test } from "vitest";
import {
  file_example_user_v1_user,
  GetMyProfileRequestSchema,
  GetProfileRequestSchema,
  ListProfilesRequestSchema,
  ProfileSchema,
} from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import {
  hasValidationRules,
  validateMessage,
} from "../../runtime/src/server/validation-interceptor.js";

// A message whose only rule is on the message type of one of its fields (a list of them too).
const wrapperFile = create(FileDescriptorProtoSchema, {
  name: "test/wrapper.proto",
  package: "test.v1",
  syntax: "proto3",
  dependency: ["example/user/v1/user.proto", "google/protobuf/struct.proto"],
  messageType: [
    {
      name: "Wrapper",
      field: [
        {
          name: "inner",
          number: 1,
          type: FieldDescriptorProto_Type.MESSAGE,
          label: FieldDescriptorProto_Label.OPTIONAL,
          typeName: ".example.user.v1.GetProfileRequest",
          jsonName: "inner",
        },
        {
          name: "items",
          number: 2,
          type: FieldDescriptorProto_Type.MESSAGE,
          label: FieldDescriptorProto_Label.REPEATED,
          typeName: ".example.user.v1.GetProfileRequest",
          jsonName: "items",
        },
      ],
    },
    {
      name: "Plain",
      field: [
        {
          name: "data",
          number: 1,
          type: FieldDescriptorProto_Type.MESSAGE,
          label: FieldDescriptorProto_Label.OPTIONAL,
          typeName: ".google.protobuf.Struct",
          jsonName: "data",
        },
      ],
    },
  ],
});
const registry = createFileRegistry(wrapperFile, (name) =>
  name === "example/user/v1/user.proto"
    ? file_example_user_v1_user
    : name === "google/protobuf/struct.proto"
      ? file_google_protobuf_struct
      : undefined,
);
const wrapper = registry.getMessage("test.v1.Wrapper") as DescMessage;
const plain = registry.getMessage("test.v1.Plain") as DescMessage;

test("rules found on fields, on nested message types and in lists; none in rule-free types", () => {
  expect(hasValidationRules(GetProfileRequestSchema)).toBe(true);
  expect(hasValidationRules(ListProfilesRequestSchema)).toBe(true);
  expect(hasValidationRules(wrapper)).toBe(true);
  expect(hasValidationRules(GetMyProfileRequestSchema)).toBe(false);
  expect(hasValidationRules(ProfileSchema)).toBe(false);
  // Struct -> Value -> ListValue -> Value: recursive, and without rules.
  expect(hasValidationRules(StructSchema)).toBe(false);
  expect(hasValidationRules(plain)).toBe(false);
});

test("a rule broken in a nested message is still reported as INVALID_ARGUMENT", () => {
  const validator = createValidator({ failFast: false });
  const bad = create(wrapper, {
    inner: { userId: "not-a-uuid" },
  } as never) as Message;
  let error: unknown;
  try {
    validateMessage(validator, wrapper, bad);
  } catch (e) {
    error = e;
  }
  expect(isRpcError(error) && error.code).toBe(status.INVALID_ARGUMENT);
  expect((error as Error).message).toContain("inner.user_id");
  const good = create(wrapper, {
    inner: { userId: "3f2504e0-4f89-11d3-9a0c-0305e82c3301" },
  } as never) as Message;
  expect(() => validateMessage(validator, wrapper, good)).not.toThrow();
  // A rule-free message passes without being evaluated at all.
  expect(() =>
    validateMessage(validator, GetMyProfileRequestSchema, create(GetMyProfileRequestSchema)),
  ).not.toThrow();
});
