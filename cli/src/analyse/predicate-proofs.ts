/** What a predicate that must hold for a row proves about the row's columns. */
import type { Node } from "../parse/pg-nodes.js";
import { baseName, nodeAs, stringValues } from "../parse/pg-nodes.js";
import type { Catalog } from "./catalog.js";
import { totalFunctions, totalOperators } from "./function-facts.js";
import { type Col, resolveLocal, type Scope } from "./nullability-scope.js";

/**
 * The columns a predicate proves not null when it is true: the column references under its
 * AND-ed conjuncts of strict expressions (comparisons with total operators, LIKE, IN,
 * BETWEEN, IS NOT NULL, strict total functions). OR, COALESCE, IS NULL and anything unknown
 * prove nothing.
 */
export function provenNotNull(predicate: Node, scope: Scope, catalog: Catalog): Set<Col> {
  const out = new Set<Col>();
  const strictRefs = (n: Node | undefined): void => {
    const ref = nodeAs(n, "ColumnRef");
    if (ref !== undefined) {
      const col = resolveLocal(stringValues(ref.fields), scope);
      if (col !== undefined) out.add(col);
      return;
    }
    const cast = nodeAs(n, "TypeCast") ?? nodeAs(n, "CollateClause");
    if (cast !== undefined) {
      strictRefs(cast.arg);
      return;
    }
    const test = nodeAs(n, "NullTest");
    if (test !== undefined) {
      if (test.nulltesttype === "IS_NOT_NULL") strictRefs(test.arg);
      return;
    }
    const bool = nodeAs(n, "BoolExpr");
    if (bool !== undefined) {
      if (bool.boolop === "AND_EXPR") for (const a of bool.args ?? []) strictRefs(a);
      return;
    }
    const e = nodeAs(n, "A_Expr");
    if (e !== undefined) {
      const op = stringValues(e.name)[0] ?? "";
      if (e.kind === "AEXPR_OP" && totalOperators.has(op)) {
        strictRefs(e.lexpr);
        strictRefs(e.rexpr);
      } else if (
        e.kind === "AEXPR_LIKE" ||
        e.kind === "AEXPR_ILIKE" ||
        e.kind === "AEXPR_SIMILAR" ||
        e.kind === "AEXPR_IN" ||
        e.kind === "AEXPR_OP_ANY" ||
        e.kind === "AEXPR_OP_ALL" ||
        e.kind === "AEXPR_BETWEEN" ||
        e.kind === "AEXPR_NOT_BETWEEN"
      ) {
        strictRefs(e.lexpr);
      }
      return;
    }
    const link = nodeAs(n, "SubLink");
    if (link !== undefined) {
      // x IN (SELECT ...) is true only for a non-null x.
      if (link.subLinkType === "ANY_SUBLINK") strictRefs(link.testexpr);
      return;
    }
    const fc = nodeAs(n, "FuncCall");
    if (fc !== undefined) {
      const fname = baseName(fc.funcname);
      if (
        fc.over === undefined &&
        totalFunctions.has(fname) &&
        catalog.func(fname)?.strict === true
      ) {
        for (const a of fc.args ?? []) strictRefs(a);
      }
    }
  };
  strictRefs(predicate);
  return out;
}
