/** Result column names as PostgreSQL derives them for unaliased expressions. */
import { type Node, nodeAs, nodeKind, stringValues } from "../parse/pg-nodes.js";

const unnamed = "?column?";

/** The value of a `String` node, or undefined for any other node. */
function stringOf(node: Node | undefined): string | undefined {
  return nodeAs(node, "String")?.sval;
}

/**
 * The name PostgreSQL gives an unaliased result column (its FigureColname): a column's
 * name, a function's name, `coalesce`, `case`, ... and `?column?` otherwise.
 */
export function figureColname(node: Node | undefined): string {
  switch (nodeKind(node)) {
    case "ColumnRef": {
      const fields = nodeAs(node, "ColumnRef")?.fields ?? [];
      return stringOf(fields[fields.length - 1]) ?? unnamed;
    }
    case "FuncCall": {
      const name = stringValues(nodeAs(node, "FuncCall")?.funcname);
      return name[name.length - 1] ?? unnamed;
    }
    case "TypeCast": {
      const cast = nodeAs(node, "TypeCast");
      const inner = figureColname(cast?.arg);
      if (inner !== unnamed) return inner;
      const type = stringValues(cast?.typeName?.names);
      return type[type.length - 1] ?? unnamed;
    }
    case "CollateClause":
      return figureColname(nodeAs(node, "CollateClause")?.arg);
    case "CoalesceExpr":
      return "coalesce";
    case "CaseExpr":
      return "case";
    case "MinMaxExpr":
      return nodeAs(node, "MinMaxExpr")?.op === "IS_LEAST" ? "least" : "greatest";
    case "A_ArrayExpr":
      return "array";
    case "RowExpr":
      return "row";
    case "A_Expr":
      return nodeAs(node, "A_Expr")?.kind === "AEXPR_NULLIF" ? "nullif" : unnamed;
    case "A_Indirection": {
      const ind = nodeAs(node, "A_Indirection");
      const steps = ind?.indirection ?? [];
      return stringOf(steps[steps.length - 1]) ?? figureColname(ind?.arg);
    }
    case "SubLink": {
      const link = nodeAs(node, "SubLink");
      if (link?.subLinkType === "EXISTS_SUBLINK") return "exists";
      if (link?.subLinkType === "ARRAY_SUBLINK") return "array";
      if (link?.subLinkType === "EXPR_SUBLINK") {
        const first = nodeAs(link.subselect, "SelectStmt")?.targetList?.[0];
        const rt = nodeAs(first, "ResTarget");
        return rt?.name ?? figureColname(rt?.val);
      }
      return unnamed;
    }
    case "SQLValueFunction": {
      const op = (nodeAs(node, "SQLValueFunction")?.op ?? "").replace(/^SVFOP_/, "").toLowerCase();
      return op.replace(/_n$/, "") || unnamed;
    }
    case "GroupingFunc":
      return "grouping";
    default:
      return unnamed;
  }
}
