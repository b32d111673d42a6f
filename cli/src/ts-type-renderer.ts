/**
 * The one place a structured {@link TsType} becomes TypeScript text. The public model
 * (`analyze --json`, the manifest) renders with no hooks; emitters pass hooks that name enums
 * and register imports as they go, so no code ever reads type text back.
 */
import type { TsType } from "./model.js";

/** How names inside a type are written; each hook may register an import. Default: plain text. */
export interface TsTypeHooks {
  /** The name of an enum's type (default: the union of its labels). */
  readonly enumName?: (type: Extract<TsType, { kind: "enum" }>) => string;
  /** The name of the runtime's JSON type (default `JsonValue`). */
  readonly json?: () => string;
  /** Called for every override (to import what it needs); the text is written as given. */
  readonly override?: (type: Extract<TsType, { kind: "override" }>) => void;
}

/** The union of an enum's labels; an enum without labels holds no nameable value: `string`. */
export function enumLabelsUnion(labels: readonly string[]): string {
  return labels.length === 0 ? "string" : labels.map((l) => JSON.stringify(l)).join(" | ");
}

/** The TypeScript text of `type` (without `| null`). */
export function renderTsType(type: TsType, hooks: TsTypeHooks = {}): string {
  switch (type.kind) {
    case "primitive":
      return type.name;
    case "bigint":
    case "date":
      return type.mode;
    case "bytes":
      return type.name;
    case "json":
      return hooks.json?.() ?? "JsonValue";
    case "enum":
      return hooks.enumName?.(type) ?? enumLabelsUnion(type.labels);
    case "override":
      hooks.override?.(type);
      return type.text;
    case "array": {
      const el = renderTsType(type.element, hooks);
      return needsParens(type.element, hooks) ? `(${el})[]` : `${el}[]`;
    }
  }
}

/** Whether an array's element must be parenthesised (`("a" | "b")[]`). */
function needsParens(element: TsType, hooks: TsTypeHooks): boolean {
  if (element.kind === "enum") return hooks.enumName === undefined && element.labels.length > 1;
  // An override is the user's text: a union or intersection there binds looser than `[]`.
  if (element.kind === "override") return element.text.includes("|") || element.text.includes("&");
  return false;
}

/** The innermost element type (through arrays): what decides codecs and proto conversions. */
export function leafType(type: TsType): TsType {
  return type.kind === "array" ? leafType(type.element) : type;
}

/** Whether a config override replaced the type or (for arrays) its element. */
export function isOverridden(type: TsType): boolean {
  return leafType(type).kind === "override";
}
