/** Result column names as PostgreSQL derives them for unaliased expressions. */
import { as, child, kindOf, list, names, str, stringValue, unwrap } from "../parse/pg-ast.js";

/**
 * The name PostgreSQL gives an unaliased result column (its FigureColname): a column's
 * name, a function's name, `coalesce`, `case`, ... and `?column?` otherwise.
 */
export function figureColname(node: unknown): string {
  const u = unwrap(node);
  if (u === undefined) return "?column?";
  const b = u.body;
  switch (u.kind) {
    case "ColumnRef": {
      const f = list(b, "fields");
      const last = f[f.length - 1];
      return kindOf(last) === "A_Star" ? "?column?" : (stringValue(last) ?? "?column?");
    }
    case "FuncCall": {
      const fn = names(list(b, "funcname"));
      return fn[fn.length - 1] ?? "?column?";
    }
    case "TypeCast": {
      const inner = figureColname(child(b, "arg"));
      if (inner !== "?column?") return inner;
      const tn = names(list(as(child(b, "typeName"), "TypeName"), "names"));
      return tn[tn.length - 1] ?? "?column?";
    }
    case "CollateClause":
      return figureColname(child(b, "arg"));
    case "CoalesceExpr":
      return "coalesce";
    case "CaseExpr":
      return "case";
    case "MinMaxExpr":
      return str(b, "op") === "IS_LEAST" ? "least" : "greatest";
    case "A_ArrayExpr":
      return "array";
    case "RowExpr":
      return "row";
    case "A_Expr":
      return str(b, "kind") === "AEXPR_NULLIF" ? "nullif" : "?column?";
    case "A_Indirection": {
      const ind = list(b, "indirection");
      const last = ind[ind.length - 1];
      const s = stringValue(last);
      return s ?? figureColname(child(b, "arg"));
    }
    case "SubLink": {
      const t = str(b, "subLinkType");
      if (t === "EXISTS_SUBLINK") return "exists";
      if (t === "ARRAY_SUBLINK") return "array";
      if (t === "EXPR_SUBLINK") {
        const first = list(as(child(b, "subselect"), "SelectStmt"), "targetList")[0];
        const rt = as(first, "ResTarget");
        return str(rt, "name") ?? figureColname(child(rt, "val"));
      }
      return "?column?";
    }
    case "SQLValueFunction": {
      const op = (str(b, "op") ?? "").replace(/^SVFOP_/, "").toLowerCase();
      return op.replace(/_n$/, "") || "?column?";
    }
    case "GroupingFunc":
      return "grouping";
    default:
      return "?column?";
  }
}
