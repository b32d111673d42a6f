/**
 * Prints a proto2/proto3 `FileDescriptorProto` back as `.proto` source: declarations only
 * (packages, imports, messages, enums, fields, oneofs, extensions, ranges), no options.
 *
 * Why: `buf.validate`'s `validate.proto` is in no npm package as source, only as the
 * descriptor embedded in `@bufbuild/protovalidate`. A build only needs the declarations to
 * resolve a user's `import "buf/validate/validate.proto"` and its options offline; the rules'
 * semantics come from protovalidate's own copy at run time.
 */
import { isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

const scalarNames: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

/**
 * The oneof a field belongs to, or undefined. `oneof_index` is a proto2 optional field: unset
 * reads as 0, so presence decides, not the value.
 */
function oneofOf(f: FieldDescriptorProto): number | undefined {
  return isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) ? f.oneofIndex : undefined;
}

/** The type of a field as written in `.proto` source (fully qualified names keep their dot). */
function typeName(f: FieldDescriptorProto): string {
  return scalarNames[f.type] ?? f.typeName;
}

/** Prints `file` as `.proto` source; see the module comment for what is left out. */
export function printFileDescriptor(file: FileDescriptorProto): string {
  const out: string[] = [];
  const syntax = file.syntax === "" ? "proto2" : file.syntax;
  out.push(`syntax = "${syntax}";`, "");
  if (file.package !== "") out.push(`package ${file.package};`, "");
  for (const dep of file.dependency) out.push(`import "${dep}";`);
  if (file.dependency.length > 0) out.push("");
  for (const m of file.messageType) printMessage(m, "", syntax, out);
  for (const e of file.enumType) printEnum(e, "", out);
  printExtensions(file.extension, "", syntax, out);
  return `${out.join("\n")}\n`;
}

function printMessage(m: DescriptorProto, indent: string, syntax: string, out: string[]): void {
  const inner = `${indent}  `;
  out.push(`${indent}message ${m.name} {`);
  // Map entries are synthetic nested types: print their fields as `map<K, V>` instead.
  const mapEntries = new Map<string, DescriptorProto>();
  for (const n of m.nestedType) {
    if (n.options?.mapEntry === true) mapEntries.set(n.name, n);
    else printMessage(n, inner, syntax, out);
  }
  for (const e of m.enumType) printEnum(e, inner, out);
  const printedOneofs = new Set<number>();
  for (const f of m.field) {
    const oneof = oneofOf(f);
    const isRealOneof = oneof !== undefined && f.proto3Optional !== true;
    if (isRealOneof) {
      if (printedOneofs.has(oneof)) continue;
      printedOneofs.add(oneof);
      out.push(`${inner}oneof ${m.oneofDecl[oneof]?.name ?? `oneof_${oneof}`} {`);
      for (const g of m.field) {
        if (oneofOf(g) === oneof && g.proto3Optional !== true) {
          out.push(`${inner}  ${typeName(g)} ${g.name} = ${g.number};`);
        }
      }
      out.push(`${inner}}`);
      continue;
    }
    const entryName = f.typeName.slice(f.typeName.lastIndexOf(".") + 1);
    const entry = mapEntries.get(entryName);
    if (entry !== undefined && f.label === FieldDescriptorProto_Label.REPEATED) {
      const [k, v] = entry.field;
      if (k !== undefined && v !== undefined) {
        out.push(`${inner}map<${typeName(k)}, ${typeName(v)}> ${f.name} = ${f.number};`);
        continue;
      }
    }
    out.push(`${inner}${label(f, syntax)}${typeName(f)} ${f.name} = ${f.number};`);
  }
  for (const r of m.extensionRange) {
    out.push(`${inner}extensions ${r.start} to ${r.end - 1 >= 536870911 ? "max" : r.end - 1};`);
  }
  for (const r of m.reservedRange) {
    out.push(`${inner}reserved ${r.start === r.end - 1 ? r.start : `${r.start} to ${r.end - 1}`};`);
  }
  if (m.reservedName.length > 0) {
    out.push(`${inner}reserved ${m.reservedName.map((n) => `"${n}"`).join(", ")};`);
  }
  printExtensions(m.extension, inner, syntax, out);
  out.push(`${indent}}`);
}

function label(f: FieldDescriptorProto, syntax: string): string {
  if (f.label === FieldDescriptorProto_Label.REPEATED) return "repeated ";
  if (f.label === FieldDescriptorProto_Label.REQUIRED) return "required ";
  if (syntax === "proto2" || f.proto3Optional === true) return "optional ";
  return "";
}

function printEnum(e: EnumDescriptorProto, indent: string, out: string[]): void {
  out.push(`${indent}enum ${e.name} {`);
  for (const v of e.value) out.push(`${indent}  ${v.name} = ${v.number};`);
  out.push(`${indent}}`);
}

function printExtensions(
  exts: readonly FieldDescriptorProto[],
  indent: string,
  syntax: string,
  out: string[],
): void {
  // Extensions of one extendee share an `extend` block, in declaration order.
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of exts) {
    const list = byExtendee.get(x.extendee) ?? [];
    list.push(x);
    byExtendee.set(x.extendee, list);
  }
  for (const [extendee, list] of byExtendee) {
    out.push(`${indent}extend ${extendee} {`);
    for (const x of list) {
      out.push(`${indent}  ${label(x, syntax)}${typeName(x)} ${x.name} = ${x.number};`);
    }
    out.push(`${indent}}`);
  }
}
