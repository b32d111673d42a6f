/**
 * The validation shortcut (runtime/src/server/fast-validation.ts) against protovalidate
 * itself: for every request type of the example project and for a type built here with every
 * rule the shortcut reads (and edge cases: exclusive ranges, non-BMP characters, presence,
 * oneofs, required fields), thousands of generated messages; whenever the shortcut says
 * "valid", protovalidate must find no violation. The shortcut must also accept most valid
 * messages (else it saves nothing), and give up on rules it does not read.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  create,
  createFileRegistry,
  type DescField,
  type DescMessage,
  type Message,
  type MessageInitShape,
  ScalarType,
  setExtension,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  type FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  OneofDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { expect, test } from "vitest";
import {
  FieldRulesSchema,
  field as fieldRules,
  file_buf_validate_validate,
} from "../../example-project/gen/proto/buf/validate/validate_pb.js";
import { fastCheckFor } from "../../runtime/src/server/fast-validation.js";
import {
  cachedRegexMatch,
  hasValidationRules,
} from "../../runtime/src/server/validation-interceptor.js";

const matches = cachedRegexMatch();
const validator = createValidator({ failFast: false, regexMatch: matches });

/** A deterministic pseudo-random generator (xorshift), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const strings = [
  "",
  "a",
  "ab",
  "abc",
  "hello world",
  "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
  "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
  "3f2504e0-4f89-11d3-9a0c-0305e82c330",
  "3f2504e04f8911d39a0c0305e82c3301",
  "not-a-uuid",
  "😀",
  "😀😀",
  "😀😀😀",
  "ab😀",
  "alice_01",
  "ALICE",
  "x".repeat(63),
  "x".repeat(64),
  "x".repeat(65),
  "x".repeat(300),
  "red",
  "green",
  "user@example.com",
];

/** Numbers near every bound the rules of `field` mention, and a few more. */
function intPool(field: DescField): bigint[] {
  const pool = new Set<bigint>([0n, 1n, -1n, 2n, 5n, 9n, 10n, 11n, 100n, 1000n, -5n, 2147483647n]);
  const opts = field.proto.options;
  if (opts !== undefined) {
    for (const v of JSON.stringify(opts, (_k, x) =>
      typeof x === "bigint" ? x.toString() : x,
    ).match(/-?\d+/g) ?? []) {
      const n = BigInt(v);
      if (n < 10n ** 12n && n > -(10n ** 12n)) for (const d of [-1n, 0n, 1n]) pool.add(n + d);
    }
  }
  return [...pool];
}

/** A random value for one field (or one element of a list field). */
function randomValue(field: DescField, next: () => number, element: boolean): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const kind = element && field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum") {
    const e = field.enum;
    const numbers = e === undefined ? [0] : e.values.map((v) => v.number);
    return pick([...numbers, ...numbers, 99, -1]);
  }
  if (kind === "message") return undefined;
  const scalar = field.scalar;
  switch (scalar) {
    case ScalarType.STRING:
      return pick(strings);
    case ScalarType.BYTES:
      return new Uint8Array(Math.floor(next() * 40));
    case ScalarType.BOOL:
      return next() < 0.5;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return next() * 100 - 50;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(intPool(field));
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const v = pick(intPool(field));
      return v < 0n ? -v : v;
    }
    case ScalarType.UINT32:
    case ScalarType.FIXED32: {
      const v = Number(pick(intPool(field)));
      return Math.abs(v) % 2 ** 32;
    }
    default:
      return Number(BigInt.asIntN(32, pick(intPool(field))));
  }
}

/** A random message of `schema`: each field unset, zero or a random value. */
function randomMessage(schema: DescMessage, next: () => number): Message {
  const init: Record<string, unknown> = {};
  for (const oneof of schema.oneofs) {
    const member = oneof.fields[Math.floor(next() * (oneof.fields.length + 1))];
    if (member !== undefined && member.fieldKind !== "message") {
      init[oneof.localName] = { case: member.localName, value: randomValue(member, next, false) };
    }
  }
  for (const field of schema.fields) {
    if (field.oneof !== undefined) continue;
    const r = next();
    if (r < 0.15) continue;
    if (field.fieldKind === "list") {
      const n = Math.floor(next() * 6);
      const items = Array.from({ length: n }, () => randomValue(field, next, true));
      if (items.every((x) => x !== undefined)) init[field.localName] = items;
    } else if (field.fieldKind === "message") {
      if (r < 0.6 && hasValidationRules(field.message) === false) init[field.localName] = {};
    } else if (field.fieldKind !== "map") {
      init[field.localName] = randomValue(field, next, false);
    }
  }
  return create(schema, init as never) as Message;
}

/** Runs `count` messages of `schema` through both; returns how many each called valid. */
function compare(
  schema: DescMessage,
  count: number,
  seed: number,
): { fast: number; valid: number } {
  const check = fastCheckFor(schema, matches);
  const next = rng(seed);
  let fast = 0;
  let valid = 0;
  for (let i = 0; i < count; i++) {
    const m = randomMessage(schema, next);
    const verdict = validator.validate(schema, m);
    if (verdict.kind === "valid") valid++;
    if (check?.(m) === true) {
      fast++;
      if (verdict.kind !== "valid") {
        throw new Error(
          `${schema.typeName}: the shortcut accepted a message protovalidate refuses (seed ${seed}, #${i}): ${JSON.stringify(m, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))} -> ${verdict.kind === "invalid" ? verdict.violations.map((v) => v.ruleId).join(", ") : verdict.kind}`,
        );
      }
    }
  }
  return { fast, valid };
}

// --- a type with every rule the shortcut reads, built here -------------------------------------

type FieldInit = MessageInitShape<typeof FieldDescriptorProtoSchema>;
const T = FieldDescriptorProto_Type;
const L = FieldDescriptorProto_Label;
let number = 0;
function f(
  name: string,
  type: FieldDescriptorProto_Type,
  rules: Parameters<typeof create<typeof FieldRulesSchema>>[1],
  extra: FieldInit = {},
): FieldInit {
  const options = create(FieldOptionsSchema);
  setExtension(options, fieldRules, create(FieldRulesSchema, rules));
  number++;
  return { name, number, type, label: L.OPTIONAL, jsonName: name, options, ...extra };
}
const ruleFile = create(FileDescriptorProtoSchema, {
  name: "test/rules.proto",
  package: "test.v1",
  syntax: "proto3",
  dependency: ["buf/validate/validate.proto"],
  enumType: [
    {
      name: "Color",
      value: [
        { name: "COLOR_UNSPECIFIED", number: 0 },
        { name: "COLOR_RED", number: 1 },
        { name: "COLOR_GREEN", number: 2 },
      ],
    },
  ],
  messageType: [
    {
      name: "Everything",
      oneofDecl: [{ name: "choice" }, { name: "_maybe" }],
      field: [
        f("id", T.STRING, {
          type: { case: "string", value: { wellKnown: { case: "uuid", value: true } } },
        }),
        f("name", T.STRING, { type: { case: "string", value: { minLen: 2n, maxLen: 64n } } }),
        f("code", T.STRING, { type: { case: "string", value: { len: 3n } } }),
        f("handle", T.STRING, {
          type: { case: "string", value: { pattern: "^[a-z][a-z0-9_]{1,30}$" } },
        }),
        f("shade", T.STRING, { type: { case: "string", value: { in: ["red", "green"] } } }),
        f("count", T.INT32, {
          type: {
            case: "int32",
            value: { greaterThan: { case: "gt", value: 0 }, lessThan: { case: "lte", value: 100 } },
          },
        }),
        f("outside", T.INT32, {
          type: {
            case: "int32",
            value: { greaterThan: { case: "gt", value: 10 }, lessThan: { case: "lt", value: 5 } },
          },
        }),
        f("big", T.INT64, {
          type: {
            case: "int64",
            value: { greaterThan: { case: "gte", value: -5n }, notIn: [0n, 9n] },
          },
        }),
        f("small", T.UINT32, { type: { case: "uint32", value: { in: [1, 2, 5] } } }),
        f("exact", T.SINT64, { type: { case: "sint64", value: { const: 10n } } }),
        f(
          "color",
          T.ENUM,
          { type: { case: "enum", value: { definedOnly: true, notIn: [2] } } },
          {
            typeName: ".test.v1.Color",
          },
        ),
        f("blob", T.BYTES, { type: { case: "bytes", value: { minLen: 1n, maxLen: 16n } } }),
        f("digest", T.BYTES, { type: { case: "bytes", value: { len: 32n } } }),
        f(
          "tags",
          T.STRING,
          {
            type: {
              case: "repeated",
              value: {
                minItems: 1n,
                maxItems: 3n,
                items: { type: { case: "string", value: { maxLen: 3n } } },
              },
            },
          },
          { label: L.REPEATED },
        ),
        f("must", T.INT32, { required: true }),
        f(
          "maybe",
          T.INT32,
          { type: { case: "int32", value: { greaterThan: { case: "gt", value: 5 } } } },
          {
            proto3Optional: true,
            oneofIndex: 1,
          },
        ),
        f(
          "want",
          T.STRING,
          { required: true, type: { case: "string", value: { maxLen: 5n } } },
          {
            proto3Optional: true,
            oneofIndex: 1,
          },
        ),
        f(
          "left",
          T.STRING,
          { type: { case: "string", value: { wellKnown: { case: "uuid", value: true } } } },
          { oneofIndex: 0 },
        ),
        f(
          "right",
          T.INT32,
          { type: { case: "int32", value: { lessThan: { case: "lt", value: 3 } } } },
          {
            oneofIndex: 0,
          },
        ),
      ],
    },
    {
      name: "Email",
      field: [
        f("address", T.STRING, {
          type: { case: "string", value: { wellKnown: { case: "email", value: true } } },
        }),
      ],
    },
  ],
});
// `maybe` and `want` each need their own synthetic oneof.
const fields = ruleFile.messageType[0]?.field ?? [];
ruleFile.messageType[0]?.oneofDecl.push(create(OneofDescriptorProtoSchema, { name: "_want" }));
const want = fields.find((x) => x.name === "want");
if (want !== undefined) want.oneofIndex = 2;
const registry = createFileRegistry(ruleFile, (name) =>
  name === "buf/validate/validate.proto" ? file_buf_validate_validate : undefined,
);
const everything = registry.getMessage("test.v1.Everything") as DescMessage;

// Each field alone in a message of its own too, so that valid messages are common and every
// rule's accepting branch is exercised (a oneof member with its sibling, a proto3 optional
// field with its synthetic oneof).
const singleFile = create(FileDescriptorProtoSchema, {
  name: "test/single.proto",
  package: "test.single.v1",
  syntax: "proto3",
  dependency: ["buf/validate/validate.proto", "test/rules.proto"],
  messageType: fields
    .filter((x) => x.name !== "right")
    .map((x) => {
      // (`oneofIndex` of a proto2 message reads 0 when unset: ask by name instead.)
      const inOneof = x.name === "left" || x.proto3Optional === true;
      const members =
        x.name === "left" ? fields.filter((y) => y.name === "left" || y.name === "right") : [x];
      return {
        name: `Only_${x.name}`,
        oneofDecl: inOneof ? [{ name: x.name === "left" ? "choice" : `_${x.name}` }] : [],
        field: members.map((y) => ({
          ...y,
          ...(inOneof ? { oneofIndex: 0 } : {}),
          ...(y.typeName === ".test.v1.Color" ? { typeName: ".test.v1.Color" } : {}),
        })),
      };
    }),
});
const singles = createFileRegistry(singleFile, (name) =>
  name === "buf/validate/validate.proto"
    ? file_buf_validate_validate
    : name === "test/rules.proto"
      ? registry.getFile("test/rules.proto")
      : undefined,
);
const email = registry.getMessage("test.v1.Email") as DescMessage;

test("every rule the shortcut reads: it never accepts what protovalidate refuses", () => {
  expect(fastCheckFor(everything, matches)).toBeDefined();
  compare(everything, 5_000, 7);
  const accepted: Record<string, number> = {};
  let seed = 100;
  for (const x of fields.filter((y) => y.name !== "right")) {
    const schema = singles.getMessage(`test.single.v1.Only_${x.name}`) as DescMessage;
    expect(hasValidationRules(schema), x.name).toBe(true);
    expect(fastCheckFor(schema, matches), x.name).toBeDefined();
    const { fast, valid } = compare(schema, 2_000, seed++);
    expect(fast).toBeLessThanOrEqual(valid);
    accepted[x.name ?? ""] = fast;
  }
  // The accepting branch of every rule ran; `outside` (gt 10, lt 5, an exclusive range) is
  // always left to protovalidate.
  for (const [name, n] of Object.entries(accepted)) {
    if (name === "outside") expect(n, name).toBe(0);
    else expect(n, name).toBeGreaterThan(0);
  }
});

test("rules it does not read (here string.email) leave the type to protovalidate", () => {
  expect(hasValidationRules(email)).toBe(true);
  expect(fastCheckFor(email, matches)).toBeUndefined();
});

test("the example's request types: never wrong, and most valid requests take the shortcut", async () => {
  const root = join(import.meta.dirname, "../../example-project/gen/proto/example");
  const files: string[] = [];
  for (const dir of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    if (dir.endsWith("_pb.ts")) files.push(join(root, dir));
  }
  let compiledTypes = 0;
  let fastTotal = 0;
  let validTotal = 0;
  for (const file of files.sort()) {
    const mod = (await import(file)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const schema = value as DescMessage;
      if (schema?.kind !== "message" || !hasValidationRules(schema)) continue;
      if (fastCheckFor(schema, matches) === undefined) continue;
      compiledTypes++;
      const { fast, valid } = compare(schema, 500, compiledTypes);
      fastTotal += fast;
      validTotal += valid;
    }
  }
  expect(compiledTypes).toBeGreaterThan(10);
  // Fields here are drawn at random from small pools, so many valid messages are also
  // plain ones (zero values); the shortcut must take most of them.
  expect(fastTotal).toBeGreaterThan(validTotal / 2);
});
