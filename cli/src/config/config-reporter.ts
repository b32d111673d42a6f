/**
 * Error rendering for `svcgen.yaml`: maps a path of keys to its node in the YAML document and
 * that node to a file, line and column, and turns zod issues into diagnostics (code SVC100)
 * with "did you mean" hints. Collects every diagnostic; nothing stops at the first one.
 */
import { type Document, isMap, isPair, isScalar, isSeq, type Node } from "yaml";
import type * as z from "zod";
import { Codes, type Diagnostic, positionAt } from "../diagnostics.js";
import { knownKeys } from "./config-schema.js";
import { closestMatch } from "./suggest.js";

/** A key path into the config: mapping keys and list indexes. */
export type PathKey = string | number;

/** Collects the diagnostics of one config file, each at the node it is about. */
export class ConfigReporter {
  /** Every diagnostic so far, in the order reported. */
  readonly diagnostics: Diagnostic[] = [];

  /** `text` is the file's source, `file` its name in messages, `doc` its parsed document. */
  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly doc: Document.Parsed,
  ) {}

  /** Diagnostics in source order, which is how a user reads and fixes them. */
  sortedDiagnostics(): Diagnostic[] {
    return [...this.diagnostics].sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
  }

  /** Whether any error was reported. */
  hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === "error");
  }

  /** Reports a zod issue found under `prefix`, at its node; `root` is the whole file's value. */
  reportIssue(issue: z.core.$ZodIssue, prefix: readonly PathKey[], root: unknown): void {
    const path = [...prefix, ...(issue.path as PathKey[])];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys[normalisePath(path)] ?? [];
      for (const key of issue.keys) {
        const guess = closestMatch(key, known);
        const keyNode = this.keyNode(path, key);
        this.errorAt(
          keyNode ?? this.nodeAt(path).node,
          `${joinPath([...path, key])}: unknown key \`${key}\``,
          guess !== undefined
            ? `did you mean \`${guess}\`?`
            : known.length > 0
              ? `known keys here: ${known.join(", ")}`
              : undefined,
        );
      }
      return;
    }
    if (issue.code === "invalid_union") {
      // Each branch failed; report the branch that got past the shape check (a list when a
      // list was given, a mapping when a mapping was), else the union's own message.
      const deep = issue.errors.filter(
        (branch) => !branch.every((i) => i.code === "invalid_type" && i.path.length === 0),
      );
      const only = deep.length === 1 ? deep[0] : undefined;
      if (only !== undefined) {
        for (const i of only) this.reportIssue(i, path, root);
        return;
      }
    }
    const value = valueAt(root, path);
    const last = path[path.length - 1];
    if (value === undefined && typeof last === "string") {
      // A required key that is absent: point at the mapping that should hold it.
      const parent = this.nodeAt(path.slice(0, -1)).node;
      this.errorAt(
        parent,
        `${joinPath(path)}: missing required key \`${last}\``,
        `add \`${last}:\`${path.length === 1 ? " at the top level" : ""}`,
      );
      return;
    }
    const { node } = this.nodeAt(path);
    const where = path.length === 0 ? "config" : joinPath(path);
    this.errorAt(node, `${where}: ${issue.message}`);
  }

  /** The deepest node along `path` that exists, and whether it is the node at `path` itself. */
  nodeAt(path: readonly PathKey[]): { node: Node | undefined; exact: boolean } {
    let node: unknown = this.doc.contents;
    for (const key of path) {
      const next = childNode(node, key);
      if (next === undefined) return { node: node as Node | undefined, exact: false };
      node = next;
    }
    return { node: node as Node | undefined, exact: true };
  }

  /** The key node of `key` in the mapping at `path`. */
  keyNode(path: readonly PathKey[], key: string): Node | undefined {
    const { node, exact } = this.nodeAt(path);
    if (!exact || !isMap(node)) return undefined;
    const pair = node.items.find(
      (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key,
    );
    return pair !== undefined && isScalar(pair.key) ? pair.key : undefined;
  }

  /**
   * The source offset of character `index` of the scalar at `path`: exact for plain and
   * quoted scalars without escapes, the scalar's start otherwise.
   */
  scalarOffset(path: readonly PathKey[], index: number): number {
    const { node, exact } = this.nodeAt(path);
    const start = node?.range?.[0] ?? 0;
    if (!exact || !isScalar(node) || typeof node.value !== "string") return start;
    const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
    const body = quoted ? start + 1 : start;
    return this.text.startsWith(node.value, body) ? body + index : start;
  }

  /** An error at a node (the file's start when there is none). */
  errorAt(node: Node | undefined, message: string, hint?: string): void {
    this.errorAtOffset(node?.range?.[0] ?? 0, message, hint);
  }

  /** An error at a source offset. */
  errorAtOffset(offset: number, message: string, hint?: string): void {
    this.push("error", offset, message, hint);
  }

  /** A warning at a node. */
  warningAt(node: Node | undefined, message: string): void {
    this.push("warning", node?.range?.[0] ?? 0, message, undefined);
  }

  private push(
    severity: Diagnostic["severity"],
    offset: number,
    message: string,
    hint: string | undefined,
  ): void {
    const { line, column } = positionAt(this.text, offset);
    this.diagnostics.push({
      severity,
      code: Codes.config,
      message,
      file: this.file,
      line,
      column,
      ...(hint !== undefined ? { hint } : {}),
    });
  }
}

function childNode(node: unknown, key: PathKey): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof key === "number") return node.items[key];
  return undefined;
}
function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (Array.isArray(v) && typeof key === "number") v = v[key];
    else if (isRecord(v) && typeof key === "string") v = v[key];
    else return undefined;
  }
  return v;
}
/** `types[0].import` from `["types", 0, "import"]`, as users see it in messages. */
export function joinPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? key : `.${key}`;
  }
  return out;
}
/** Like {@link joinPath} with every index written `[]`, to look up {@link knownKeys}. */
function normalisePath(path: readonly PathKey[]): string {
  return joinPath(path.map((k) => (typeof k === "number" ? -1 : k))).replace(/\[-1\]/g, "[]");
}

/** Whether a value is a plain mapping. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
