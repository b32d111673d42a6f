/**
 * Typed access to libpg-query's syntax trees through `@pgsql/types`, the type definitions
 * published with it for the same grammar. A `Node` is an object with exactly one key, its
 * kind (`{ SelectStmt: {...} }`); fields whose C type is a specific struct (`Alias *`,
 * `WithClause *`, `SelectStmt *` larg/rarg) hold the bare struct, as the types say.
 */
import type { Node } from "@pgsql/types";

export type { Node };

type KeysOf<N> = N extends unknown ? keyof N : never;

/** Every node kind (`SelectStmt`, `ColumnRef`, ...). */
export type NodeKind = KeysOf<Node>;

/** The body type of a node kind: `NodeOf<"ColumnRef">` is `ColumnRef`. */
export type NodeOf<K extends NodeKind> = K extends NodeKind
  ? Extract<Node, Record<K, unknown>>[K]
  : never;

/** The body of `node` when it is of `kind`, else undefined. */
export function nodeAs<K extends NodeKind>(node: Node | undefined, kind: K): NodeOf<K> | undefined {
  if (node === undefined || node === null || typeof node !== "object" || !(kind in node)) {
    return undefined;
  }
  return (node as unknown as Record<K, NodeOf<K>>)[kind];
}

/** The kind of a node, or undefined for no node. */
export function nodeKind(node: Node | undefined): NodeKind | undefined {
  if (node === undefined || node === null || typeof node !== "object") return undefined;
  return Object.keys(node)[0] as NodeKind | undefined;
}

/**
 * The values of a list of `String` nodes (a qualified name, column aliases), position for
 * position: any other node (`A_Star` in `t.*`) gives "".
 */
export function stringValues(nodes: readonly Node[] | undefined): string[] {
  return (nodes ?? []).map((n) => nodeAs(n, "String")?.sval ?? "");
}

/** The last part of a possibly qualified name, lower case (`pg_catalog.LOWER` -> `lower`). */
export function baseName(nodes: readonly Node[] | undefined): string {
  const parts = stringValues(nodes);
  return (parts[parts.length - 1] ?? "").toLowerCase();
}

/**
 * The tree libpg-query returned, typed. Its JSON is what `@pgsql/types` describes; the
 * parser's own result type is looser, so this is the one place that says so.
 */
export function asNode(tree: unknown): Node | undefined {
  return tree !== null && typeof tree === "object" ? (tree as Node) : undefined;
}
