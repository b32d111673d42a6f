/**
 * Server reflection (`@grpc/reflection`) from protobuf-es descriptors: the reflection service
 * wants a proto-loader package definition, of which it reads only each entry's
 * `fileDescriptorProtos`, so the serialized FileDescriptorProto of every file the services
 * need (their files and their imports, transitively) is enough. As ARCHITECTURE notes, the
 * reflection package re-encodes descriptors and drops custom options: a client sees the
 * services, methods and messages, not svcgen's options.
 */
import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";

/** Adds the reflection service (v1 and v1alpha) for `services` to `server`. */
export function addReflection(server: Server, services: readonly DescService[]): void {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    for (const dep of file.dependencies) visit(dep);
  };
  for (const s of services) visit(s.file);
  const fileDescriptorProtos = [...files.values()].map((f) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)),
  );
  // One entry per service is what proto-loader would produce; every entry lists all files.
  const definition = Object.fromEntries(
    services.map((s) => [
      s.typeName,
      { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos },
    ]),
  );
  new ReflectionService(
    definition as unknown as ConstructorParameters<typeof ReflectionService>[0],
  ).addToServer(server);
}
