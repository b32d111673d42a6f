/**
 * A sound shortcut in front of protovalidate. protovalidate evaluates every standard rule
 * (`string.uuid`, `int32.gt`, ...) as a CEL expression on every request: in the server
 * benchmark that was the largest single piece of the runtime's own per-call work, and most of
 * its allocations. For a request type whose rules are all of a small set of standard rules,
 * this module compiles, once per type, a plain function that answers "certainly valid". It
 * is only ever stricter than protovalidate: when it says yes, protovalidate would find no
 * violation; when it says no (or the type uses anything else: CEL, message or oneof rules,
 * `ignore`, predefined extensions, maps, nested rules...), the caller runs protovalidate, which
 * decides and words the violations. So the shortcut changes cost, never outcomes; the test
 * (`test/runtime/fast-validation.test.ts`) checks that claim against protovalidate itself.
 *
 * Rules read: `required`; string `uuid`, `min_len`, `max_len`, `len`, `pattern` (the same
 * RE2-compatible compilation protovalidate is given), `in`; 32- and 64-bit integers `gt`,
 * `gte`, `lt`, `lte`, `const`, `in`, `not_in` (a value must satisfy every bound on its own,
 * so an exclusive range such as `gt: 10, lt: 5` never passes here and goes to protovalidate);
 * enum `defined_only`, `in`, `not_in`, `const`; bytes `len`, `min_len`, `max_len`; repeated
 * `min_items`, `max_items` and `items` (scalar rules on each element).
 */
import {
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescFile,
  type DescMessage,
  getOption,
  hasOption,
  isFieldSet,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";
import { Edition, FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { hasValidationRules } from "./validation-interceptor.js";

/** Says whether a message is certainly valid (see the module comment). */
export type FastCheck = (message: unknown) => boolean;

/** A check of one value (a field's, or a list element's). */
type ValueCheck = (value: unknown) => boolean;

/** Thrown while compiling: the type uses something this module does not read. */
class Unsupported extends Error {}

const compiled = new WeakMap<DescMessage, FastCheck | null>();

/**
 * The shortcut for messages of type `schema`, or undefined when its rules are not all ones
 * this module reads. `matches(pattern, value)` must be the validator's own `regexMatch`.
 * Compiled once per type.
 */
export function fastCheckFor(
  schema: DescMessage,
  matches: (pattern: string, value: string) => boolean,
): FastCheck | undefined {
  const known = compiled.get(schema);
  if (known !== undefined) return known ?? undefined;
  let check: FastCheck | null = null;
  try {
    check = compileMessage(schema, matches);
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
  }
  compiled.set(schema, check);
  return check ?? undefined;
}

// protobuf-es names a file without its `.proto` suffix.
const validateFile = "buf/validate/validate";

/** The `buf/validate/validate.proto` file `file` imports, directly or not. */
function validateFileOf(file: DescFile, seen = new Set<DescFile>()): DescFile | undefined {
  if (seen.has(file)) return undefined;
  seen.add(file);
  if (file.name === validateFile) return file;
  for (const dep of file.dependencies) {
    const found = validateFileOf(dep, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The `buf.validate.field`, `.message` and `.oneof` extensions reachable from `file`. */
function validateExtensions(
  file: DescFile,
): { field: DescExtension; message: DescExtension; oneof: DescExtension } | undefined {
  const validate = validateFileOf(file);
  if (validate === undefined) return undefined;
  const ext = (name: string) => validate.extensions.find((e) => e.name === name);
  const field = ext("field");
  const message = ext("message");
  const oneof = ext("oneof");
  return field && message && oneof ? { field, message, oneof } : undefined;
}

function compileMessage(
  schema: DescMessage,
  matches: (pattern: string, value: string) => boolean,
): FastCheck {
  // Presence as protobuf-es represents proto3 (implicit scalars always hold a value; optional
  // and message fields are undefined when unset); editions and proto2 are left to protovalidate.
  if (schema.file.edition !== Edition.EDITION_PROTO3) throw new Unsupported();
  const ext = validateExtensions(schema.file);
  if (ext === undefined) throw new Unsupported();
  if (hasOption(schema, ext.message)) throw new Unsupported();
  for (const oneof of schema.oneofs) if (hasOption(oneof, ext.oneof)) throw new Unsupported();
  const checks: FastCheck[] = [];
  for (const field of schema.fields) {
    const nested = field.message;
    const rules = hasOption(field, ext.field)
      ? (getOption(field, ext.field) as unknown as FieldRules)
      : undefined;
    if (rules === undefined) {
      // No rule here, but one inside the nested type would need recursion: not read.
      if (nested !== undefined && hasValidationRules(nested)) throw new Unsupported();
      continue;
    }
    checks.push(compileField(field, rules, matches));
  }
  return (message) => {
    for (let i = 0; i < checks.length; i++) if (!(checks[i] as FastCheck)(message)) return false;
    return true;
  };
}

/** The parts of `buf.validate.FieldRules` read here (protobuf-es shape). */
interface FieldRules extends Message {
  readonly required: boolean;
  readonly ignore: number;
  readonly cel: readonly unknown[];
  readonly celExpression?: readonly string[];
  readonly type: { readonly case: string | undefined; readonly value?: Message };
}

/** The rule fields set on a rules message, by proto name; Unsupported for extensions. */
function setRules(
  rules: Message,
  schemaOf: (typeName: string) => DescMessage,
): Map<string, unknown> {
  const unknown = (rules as { $unknown?: readonly unknown[] }).$unknown;
  if (unknown !== undefined && unknown.length > 0) throw new Unsupported();
  const desc = schemaOf(rules.$typeName);
  const set = new Map<string, unknown>();
  const fields = rules as unknown as Record<string, unknown>;
  for (const f of desc.fields) {
    if (!isFieldSet(rules, f)) continue;
    // Members of a oneof (`well_known`, `greater_than`, `less_than`) live in the oneof's value.
    const value =
      f.oneof === undefined
        ? fields[f.localName]
        : (fields[f.oneof.localName] as { readonly value?: unknown } | undefined)?.value;
    set.set(f.name, value);
  }
  return set;
}

function compileField(
  field: DescField,
  rules: FieldRules,
  matches: (pattern: string, value: string) => boolean,
): FastCheck {
  if (rules.ignore !== 0) throw new Unsupported();
  if (rules.cel.length > 0 || (rules.celExpression?.length ?? 0) > 0) throw new Unsupported();
  const schemaOf = ruleSchemas(field);
  const key = field.localName;
  const oneof = field.oneof?.localName;
  const required = rules.required;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const value = valueCheck(field, rules, schemaOf, matches);
      // An implicit-presence scalar always holds a value (its zero when not sent); the rules
      // are checked against it, which is never laxer than protovalidate.
      const explicit = oneof !== undefined || field.presence === FeatureSet_FieldPresence.EXPLICIT;
      if (!explicit && !required) {
        return (m) => value((m as Record<string, unknown>)[key]);
      }
      return (m) => {
        const v = read(m, key, oneof);
        if (v === undefined) return !required;
        if (required && !explicit && isZero(v)) return false;
        return value(v);
      };
    }
    case "list": {
      if (rules.type.case !== "repeated" || rules.type.value === undefined) {
        if (rules.type.case !== undefined) throw new Unsupported();
        if (required) return (m) => ((m as Record<string, unknown[]>)[key]?.length ?? 0) > 0;
        return () => true;
      }
      const set = setRules(rules.type.value, schemaOf);
      let minItems = 0n;
      let maxItems: bigint | undefined;
      let item: ValueCheck = () => true;
      for (const [name, v] of set) {
        if (name === "min_items") minItems = v as bigint;
        else if (name === "max_items") maxItems = v as bigint;
        else if (name === "items") {
          const itemRules = v as FieldRules;
          if (itemRules.required || itemRules.ignore !== 0 || itemRules.cel.length > 0)
            throw new Unsupported();
          if (field.listKind === "message") throw new Unsupported();
          item = valueCheck(field, itemRules, schemaOf, matches);
        } else throw new Unsupported();
      }
      if (required && minItems < 1n) minItems = 1n;
      return (m) => {
        const list = (m as Record<string, readonly unknown[]>)[key] ?? [];
        const n = BigInt(list.length);
        if (n < minItems || (maxItems !== undefined && n > maxItems)) return false;
        for (let i = 0; i < list.length; i++) if (!item(list[i])) return false;
        return true;
      };
    }
    case "message": {
      // Only `required` on a message field (typed rules there are for wrapper types).
      if (rules.type.case !== undefined) throw new Unsupported();
      return required ? (m) => read(m, key, oneof) !== undefined : () => true;
    }
    default:
      throw new Unsupported();
  }
}

/** A field's value: the oneof's when it holds this field, else the property. */
function read(m: unknown, key: string, oneof: string | undefined): unknown {
  if (oneof === undefined) return (m as Record<string, unknown>)[key];
  const o = (m as Record<string, { case?: string; value?: unknown }>)[oneof];
  return o?.case === key ? o.value : undefined;
}

function isZero(v: unknown): boolean {
  return (
    v === "" || v === 0 || v === 0n || v === false || (v instanceof Uint8Array && v.length === 0)
  );
}

/** Looks up the rules message types (`buf.validate.StringRules`...) of the validate file. */
function ruleSchemas(field: DescField): (typeName: string) => DescMessage {
  const file = validateFileOf(field.parent.file);
  return (typeName) => {
    const desc = file?.messages.find((m) => m.typeName === typeName);
    if (desc === undefined) throw new Unsupported();
    return desc;
  };
}

const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Code points in `s` (CEL's `size()` of a string), counted only as far as needed. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const intTypes: Readonly<Record<string, readonly ScalarType[]>> = {
  int32: [ScalarType.INT32],
  sint32: [ScalarType.SINT32],
  sfixed32: [ScalarType.SFIXED32],
  uint32: [ScalarType.UINT32],
  fixed32: [ScalarType.FIXED32],
  int64: [ScalarType.INT64],
  sint64: [ScalarType.SINT64],
  sfixed64: [ScalarType.SFIXED64],
  uint64: [ScalarType.UINT64],
  fixed64: [ScalarType.FIXED64],
};

/** The check of one scalar or enum value under `rules` (the field's or a list's `items`). */
function valueCheck(
  field: DescField,
  rules: FieldRules,
  schemaOf: (typeName: string) => DescMessage,
  matches: (pattern: string, value: string) => boolean,
): ValueCheck {
  const kind = rules.type.case;
  const scalar =
    field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")
      ? field.scalar
      : undefined;
  const enumType: DescEnum | undefined =
    field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")
      ? field.enum
      : undefined;
  if (kind === undefined || rules.type.value === undefined) return () => true;
  const set = setRules(rules.type.value, schemaOf);
  const checks: ValueCheck[] = [];
  if (kind === "string" && scalar === ScalarType.STRING) {
    for (const [name, v] of set) {
      if (name === "uuid") {
        if (v === true) checks.push((s) => uuid.test(s as string));
      } else if (name === "min_len") {
        const min = Number(v as bigint);
        checks.push((s) => (s as string).length >= min && codePoints(s as string) >= min);
      } else if (name === "max_len") {
        const max = Number(v as bigint);
        // UTF-16 units are never fewer than code points: within max units is within max.
        checks.push((s) => (s as string).length <= max || codePoints(s as string) <= max);
      } else if (name === "len") {
        const len = Number(v as bigint);
        checks.push((s) => codePoints(s as string) === len);
      } else if (name === "pattern") {
        const pattern = v as string;
        checks.push((s) => matches(pattern, s as string));
      } else if (name === "in") {
        const allowed = new Set(v as string[]);
        checks.push((s) => allowed.has(s as string));
      } else throw new Unsupported();
    }
  } else if (kind in intTypes && scalar !== undefined && intTypes[kind]?.includes(scalar)) {
    if ((field as { readonly longAsString?: boolean }).longAsString === true)
      throw new Unsupported();
    for (const [name, v] of set) {
      const bound = v as number | bigint;
      if (name === "gt") checks.push((x) => (x as number | bigint) > bound);
      else if (name === "gte") checks.push((x) => (x as number | bigint) >= bound);
      else if (name === "lt") checks.push((x) => (x as number | bigint) < bound);
      else if (name === "lte") checks.push((x) => (x as number | bigint) <= bound);
      else if (name === "const") checks.push((x) => x === bound);
      else if (name === "in") {
        const allowed = new Set(v as (number | bigint)[]);
        checks.push((x) => allowed.has(x as number | bigint));
      } else if (name === "not_in") {
        const refused = new Set(v as (number | bigint)[]);
        checks.push((x) => !refused.has(x as number | bigint));
      } else throw new Unsupported();
    }
  } else if (kind === "enum" && enumType !== undefined) {
    for (const [name, v] of set) {
      if (name === "defined_only") {
        if (v === true) {
          const defined = new Set(enumType.values.map((e) => e.number));
          checks.push((x) => defined.has(x as number));
        }
      } else if (name === "const") checks.push((x) => x === v);
      else if (name === "in") {
        const allowed = new Set(v as number[]);
        checks.push((x) => allowed.has(x as number));
      } else if (name === "not_in") {
        const refused = new Set(v as number[]);
        checks.push((x) => !refused.has(x as number));
      } else throw new Unsupported();
    }
  } else if (kind === "bytes" && scalar === ScalarType.BYTES) {
    for (const [name, v] of set) {
      const n = Number(v as bigint);
      if (name === "len") checks.push((b) => (b as Uint8Array).length === n);
      else if (name === "min_len") checks.push((b) => (b as Uint8Array).length >= n);
      else if (name === "max_len") checks.push((b) => (b as Uint8Array).length <= n);
      else throw new Unsupported();
    }
  } else {
    throw new Unsupported();
  }
  if (checks.length === 1) return checks[0] as ValueCheck;
  return (x) => {
    for (let i = 0; i < checks.length; i++) if (!(checks[i] as ValueCheck)(x)) return false;
    return true;
  };
}
