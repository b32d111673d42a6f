/** Request validation with protovalidate: INVALID_ARGUMENT listing every violated field. */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { status } from "@grpc/grpc-js";
import { RpcError } from "../grpc/rpc-error.js";
import { fastCheckFor } from "./fast-validation.js";
import type { ServerInterceptor } from "./interceptor.js";

// CEL patterns are RE2; these ECMAScript-only constructs have no RE2 meaning (the same list
// @bufbuild/cel refuses).
const notRe2 = [
  /\\[1-9]/,
  /\\k<\w+>/,
  /\(\?=/,
  /\(\?!/,
  /\(\?<=/,
  /\(\?<!/,
  /\\c[A-Z]/,
  /\\u[0-9a-fA-F]{4}/,
  /\\0(?!\d)/,
  /\[\\b.*\]/,
];
const leadingFlags = /^\(\?(?<flags>[ims-]+)\)/;

/** Compiles one CEL (RE2) pattern the way @bufbuild/cel does: leading `(?flags)` applied. */
function compilePattern(pattern: string): RegExp {
  for (const bad of notRe2) {
    if (bad.test(pattern))
      throw new Error(`Error evaluating pattern ${pattern}, invalid RE2 syntax`);
  }
  let flags = "";
  let body = pattern;
  const m = leadingFlags.exec(pattern);
  if (m !== null) {
    for (const flag of m.groups?.flags ?? "") {
      if (flag === "-") break;
      flags += flag;
    }
    body = pattern.slice(m[0].length);
  }
  return new RegExp(body, flags);
}

/**
 * The `regexMatch` of protovalidate's `createValidator`: CEL's `matches` compiled each
 * pattern (and screened it with ten more expressions) on every evaluation, so every
 * `string.uuid` or `pattern` rule cost a regex compilation per request. Patterns come from
 * the proto, a fixed set, so each is compiled once (a bad one fails as before, each time).
 */
export function cachedRegexMatch(): (pattern: string, value: string) => boolean {
  const compiled = new Map<string, RegExp>();
  return (pattern, value) => {
    let re = compiled.get(pattern);
    if (re === undefined) {
      re = compilePattern(pattern);
      // Bounded anyway, should a rule ever build patterns from data.
      if (compiled.size < 1000) compiled.set(pattern, re);
    }
    return re.test(value);
  };
}

/** Validators from {@link createDefaultValidator}, and the pattern matcher each was given. */
const defaultValidators = new WeakMap<Validator, (pattern: string, value: string) => boolean>();

/**
 * The runtime's protovalidate validator: every violation reported (not just the first), RE2
 * patterns compiled once. Requests it validates go through the sound shortcut of
 * `fast-validation.ts` first, which uses the same pattern matcher.
 */
export function createDefaultValidator(): Validator {
  const regexMatch = cachedRegexMatch();
  const validator = createValidator({ failFast: false, regexMatch });
  defaultValidators.set(validator, regexMatch);
  return validator;
}

// `buf.validate.message`, `.oneof` and `.field` are all extension 1159 of their options.
const validateExtension = 1159;

function declaresRules(
  options: { readonly $unknown?: readonly { readonly no: number }[] | undefined } | undefined,
): boolean {
  return options?.$unknown?.some((u) => u.no === validateExtension) ?? false;
}

const ruleVerdicts = new WeakMap<DescMessage, boolean>();

/**
 * Whether protovalidate could find anything to check in a message of type `schema`: a
 * `buf.validate` option on the message, one of its oneofs or fields, or on a message type
 * reachable through its fields (lists and maps included). The verdict is computed once per
 * type. Most request messages declare no rule, and validating one still cost a reflection,
 * a cursor and a CEL clock update per call.
 */
export function hasValidationRules(
  schema: DescMessage,
  visiting = new Set<DescMessage>(),
): boolean {
  const known = ruleVerdicts.get(schema);
  if (known !== undefined) return known;
  // A type already being examined higher up adds nothing new (recursive messages).
  if (visiting.has(schema)) return false;
  visiting.add(schema);
  let found = declaresRules(schema.proto.options);
  for (const oneof of schema.oneofs) {
    if (found) break;
    found = declaresRules(oneof.proto.options);
  }
  for (const field of schema.fields) {
    if (found) break;
    found = declaresRules(field.proto.options);
    const nested =
      field.fieldKind === "message"
        ? field.message
        : field.fieldKind === "list" && field.listKind === "message"
          ? field.message
          : field.fieldKind === "map" && field.mapKind === "message"
            ? field.message
            : undefined;
    if (!found && nested !== undefined) found = hasValidationRules(nested, visiting);
  }
  visiting.delete(schema);
  // Only a complete answer is kept: one reached while a cycle was cut short may be partial.
  if (found || visiting.size === 0) ruleVerdicts.set(schema, found);
  return found;
}

/** Validates one message; throws INVALID_ARGUMENT with field violations when it breaks a rule. */
export function validateMessage<I extends DescMessage>(
  validator: Validator,
  schema: I,
  message: MessageShape<I>,
): void {
  if (!hasValidationRules(schema)) return;
  // Certainly valid by the shortcut: protovalidate would find nothing (fast-validation.ts).
  const matches = defaultValidators.get(validator);
  if (matches !== undefined && fastCheckFor(schema, matches)?.(message) === true) return;
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "invalid") {
    const violations = result.violations.map((v) => ({
      field: pathToString(v.field),
      description: v.message,
      reason: v.ruleId,
    }));
    const summary = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
    throw new RpcError(status.INVALID_ARGUMENT, `Invalid request: ${summary}`, { violations });
  }
  // A rule that does not compile is the service's bug, not the caller's.
  throw result.error;
}

/** The validation interceptor for the request of unary and server-streaming calls. */
export function createValidationInterceptor(validator: Validator): ServerInterceptor {
  return (call, next) => {
    if (call.request !== undefined) {
      validateMessage(
        validator,
        call.info.descriptor.input,
        call.request as MessageShape<DescMessage>,
      );
    }
    return next();
  };
}
