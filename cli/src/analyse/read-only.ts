/**
 * Which queries only read: the run time retries these, and only these, at the query after a
 * transient failure (a lost connection, 40001, ...), even inside a call that is not
 * idempotent. A retry sends the statement again, so "only reads" must hold whatever happened
 * to the first attempt, including a commit whose answer was lost: the statement is a plain
 * SELECT (no `INTO`), no part of it locks rows (`FOR UPDATE`/`SHARE`, in any subquery) or
 * modifies data (a data-modifying WITH), and no function it calls, directly or in a view it
 * reads, is volatile in any overload (a volatile function may write: `nextval`, a user
 * function that inserts). A function the catalog does not know, or a view whose definition
 * cannot be parsed, counts as a write. User-defined operators and casts are not looked into.
 */
import { parseSync } from "libpg-query";
import { as, kindOf, list, str } from "../parse/pg-ast.js";
import { asNode, baseName, type Node, nodeAs } from "../parse/pg-nodes.js";
import type { Catalog } from "./catalog.js";

const modifying = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

/** What a walk over a statement and the views it reads found. */
interface Findings {
  writes: boolean;
  readonly functions: Set<string>;
  /** Views already walked, by OID. */
  readonly views: Set<number>;
}

/** Whether `ast` (a statement's syntax tree) only reads, as the module comment defines it. */
export async function isReadOnlyStatement(ast: unknown, catalog: Catalog): Promise<boolean> {
  if (kindOf(ast) !== "SelectStmt" || as(ast, "SelectStmt")?.intoClause !== undefined) return false;
  const found: Findings = { writes: false, functions: new Set(), views: new Set() };
  walk(ast, catalog, found);
  if (found.writes) return false;
  await catalog.loadFunctions(found.functions);
  for (const name of found.functions) {
    const facts = catalog.func(name);
    if (facts === undefined || facts.volatile) return false;
  }
  return true;
}

function walk(n: unknown, catalog: Catalog, found: Findings): void {
  if (found.writes || n === null || typeof n !== "object") return;
  if (Array.isArray(n)) {
    for (const x of n) walk(x, catalog, found);
    return;
  }
  const kind = kindOf(n);
  if (kind !== undefined && modifying.has(kind)) {
    found.writes = true;
    return;
  }
  if (kind === "SelectStmt" && list(as(n, "SelectStmt"), "lockingClause").length > 0) {
    found.writes = true;
    return;
  }
  const call = nodeAs(n as Node, "FuncCall");
  if (call !== undefined) found.functions.add(baseName(call.funcname));
  if (kind === "RangeVar") view(as(n, "RangeVar"), catalog, found);
  for (const v of Object.values(n)) walk(v, catalog, found);
}

/** Walks the definition of the view a FROM item names, once per view. */
function view(range: ReturnType<typeof as>, catalog: Catalog, found: Findings): void {
  const name = str(range, "relname");
  if (name === undefined) return;
  const rel = catalog.relation(str(range, "schemaname"), name);
  if (rel?.kind !== "view" || found.views.has(rel.oid)) return;
  found.views.add(rel.oid);
  try {
    const stmt = asNode(parseSync(rel.definition ?? "").stmts?.[0]?.stmt);
    if (stmt === undefined) found.writes = true;
    else walk(stmt, catalog, found);
  } catch {
    found.writes = true;
  }
}
