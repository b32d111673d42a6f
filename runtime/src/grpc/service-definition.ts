/**
 * @grpc/grpc-js service definitions built from protobuf-es descriptors: the method paths,
 * streaming flags and (de)serializers grpc-js needs, with protobuf-es doing the encoding.
 */
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The HTTP/2 path of a method: `/package.Service/Method`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Encodes a message or an init object of `schema` (so clients may pass plain objects). */
function serializer(schema: DescMessage): (value: Message) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, create(schema, value));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => fromBinary(schema, bytes);
}

/** The grpc-js definition of one method. */
export function createMethodDefinition(method: DescMethod): MethodDefinition<Message, Message> {
  const kind = method.methodKind;
  return {
    path: methodPath(method),
    requestStream: kind === "client_streaming" || kind === "bidi_streaming",
    responseStream: kind === "server_streaming" || kind === "bidi_streaming",
    requestSerialize: serializer(method.input),
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output),
    responseDeserialize: deserializer(method.output),
    originalName: method.localName,
  };
}

/**
 * The grpc-js `ServiceDefinition` of `service`, keyed by each method's protobuf-es local name
 * (`getUser`), in declaration order. Pass it to `server.addService` or `makeGenericClientConstructor`.
 */
export function createServiceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<Message, Message>> = {};
  for (const m of service.methods) def[m.localName] = createMethodDefinition(m);
  return def;
}
