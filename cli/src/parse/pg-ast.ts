/**
 * Minimal typed access to libpg-query's JSON syntax trees. A node is an object with exactly
 * one key, its kind (`{ SelectStmt: {...} }`); these helpers unwrap it without `any`.
 */

/**
 * A syntax tree node as libpg-query returns it: `{ Kind: body }`. Fields whose C type is a
 * specific struct (`Alias *`, `RangeVar *`, `WithClause *`, `SelectStmt *` larg/rarg) are
 * serialised as the bare body; fields of type `Node *` carry the wrapper. {@link as}
 * accepts both.
 */
export type PgNode = { readonly [kind: string]: PgBody };

/** The body of a node: its fields. */
export type PgBody = { readonly [field: string]: unknown };

/** The kind of a node (`SelectStmt`, `ColumnRef`, ...), or undefined when it is not a node. */
export function kindOf(node: unknown): string | undefined {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  // Node kinds are capitalised (`SelectStmt`, `A_Expr`); field names are not.
  return keys.length === 1 && /^[A-Z]/.test(keys[0]!) ? keys[0] : undefined;
}

/**
 * The body of `node` when it is of `kind`, else undefined. A bare body (a struct-typed
 * field without the wrapper) is accepted as the body of `kind`.
 */
export function as(node: unknown, kind: string): PgBody | undefined {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
  const k = kindOf(node);
  if (k === undefined) return node as PgBody;
  if (k !== kind) return undefined;
  const body = (node as Record<string, unknown>)[kind];
  return body !== null && typeof body === "object" ? (body as PgBody) : {};
}

/** Wraps a bare body as a node of `kind`; a wrapped node is returned as is. */
export function wrap(node: unknown, kind: string): unknown {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return node;
  return kindOf(node) === undefined ? { [kind]: node } : node;
}

/** The body of any node, with its kind. */
export function unwrap(node: unknown): { kind: string; body: PgBody } | undefined {
  const kind = kindOf(node);
  if (kind === undefined) return undefined;
  const body = (node as Record<string, unknown>)[kind];
  return { kind, body: body !== null && typeof body === "object" ? (body as PgBody) : {} };
}

/** A field that is a list of nodes (absent lists are empty). */
export function list(body: PgBody | undefined, field: string): readonly unknown[] {
  const v = body?.[field];
  return Array.isArray(v) ? v : [];
}

/** A field that is a single node, or undefined. */
export function child(body: PgBody | undefined, field: string): unknown {
  return body?.[field];
}

/** A string field, or undefined. */
export function str(body: PgBody | undefined, field: string): string | undefined {
  const v = body?.[field];
  return typeof v === "string" ? v : undefined;
}

/** A number field, or undefined. */
export function num(body: PgBody | undefined, field: string): number | undefined {
  const v = body?.[field];
  return typeof v === "number" ? v : undefined;
}

/** The string value of a `String` node (`{ String: { sval } }`). */
export function stringValue(node: unknown): string | undefined {
  return str(as(node, "String"), "sval");
}

/** The names of a list of `String` nodes, e.g. a function name `["pg_catalog", "lower"]`. */
export function names(nodes: readonly unknown[]): string[] {
  return nodes.map((n) => stringValue(n) ?? "");
}

/** The 0-based character offset a node's `location` field gives, if any. */
export function locationOf(node: unknown): number | undefined {
  const u = unwrap(node);
  return u === undefined ? undefined : num(u.body, "location");
}
