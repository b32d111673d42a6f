/**
 * Maps descriptors back to `.proto` source positions (from buf's source code info), so
 * binding diagnostics point at the line the user wrote.
 */
import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/** A diagnostic location: project-relative file, 1-based line and column. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Finds the location of a descriptor path in a proto file; undefined when unknown. */
export type Locator = (protoPath: string, path: readonly number[]) => SourceLocation | undefined;

/**
 * A {@link Locator} over `files` (with source info). `sourcePaths` maps proto paths to the
 * project-relative file names used in diagnostics.
 */
export function createLocator(
  files: readonly FileDescriptorProto[],
  sourcePaths: ReadonlyMap<string, string>,
): Locator {
  const byName = new Map(files.map((f) => [f.name, f]));
  return (protoPath, path) => {
    const file = byName.get(protoPath);
    const locations = file?.sourceCodeInfo?.location ?? [];
    // The longest recorded prefix of `path` wins: an option without its own span falls back
    // to its method, a method to its service.
    for (let len = path.length; len > 0; len--) {
      const want = path.slice(0, len);
      const hit = locations.find(
        (l) => l.path.length === want.length && l.path.every((n, i) => n === want[i]),
      );
      if (hit !== undefined && hit.span.length >= 3) {
        return {
          file: sourcePaths.get(protoPath) ?? protoPath,
          line: (hit.span[0] ?? 0) + 1,
          column: (hit.span[1] ?? 0) + 1,
        };
      }
    }
    return undefined;
  };
}

/** The descriptor path of a message: [4, i] at the top level, then [3, j] per nesting. */
function messagePath(m: DescMessage): number[] {
  if (m.parent === undefined) return [4, m.file.messages.indexOf(m)];
  return [...messagePath(m.parent), 3, m.parent.nestedMessages.indexOf(m)];
}

/** The location of `method`'s svcgen option, else of the method, else nothing. */
export function methodLocation(
  locate: Locator,
  method: DescMethod,
): SourceLocation | Record<string, never> {
  const s = method.parent.file.services.indexOf(method.parent);
  const m = method.parent.methods.indexOf(method);
  return locate(method.parent.file.proto.name, [6, s, 2, m, 4, 51871]) ?? {};
}

/** The location of a message field's declaration. */
export function fieldLocation(
  locate: Locator,
  field: DescField,
): SourceLocation | Record<string, never> {
  const msg = field.parent;
  return locate(msg.file.proto.name, [...messagePath(msg), 2, msg.fields.indexOf(field)]) ?? {};
}
