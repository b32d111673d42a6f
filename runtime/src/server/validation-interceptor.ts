/** Request validation with protovalidate: INVALID_ARGUMENT listing every violated field. */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { Validator } from "@bufbuild/protovalidate";
import { status } from "@grpc/grpc-js";
import { RpcError } from "../grpc/rpc-error.js";
import type { ServerInterceptor } from "./interceptor.js";

/** Validates one message; throws INVALID_ARGUMENT with field violations when it breaks a rule. */
export function validateMessage<I extends DescMessage>(
  validator: Validator,
  schema: I,
  message: MessageShape<I>,
): void {
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
