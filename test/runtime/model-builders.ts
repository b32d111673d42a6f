/**
 * Builders of Models for emitter and runtime tests: Postgres types with the analyser's own
 * TypeScript mapping (`tsTypeFor`, SPEC's type table), so a test model types values exactly
 * as the analyser does.
 */

import { tsTypeFor } from "../../cli/src/analyse/ts-types.js";
import type {
  ColumnModel,
  ParamModel,
  PgType,
  QueryCommand,
  QueryModel,
  TsType,
} from "../../cli/src/model.js";

let nextOid = 100_000;

/** A base type by `typname`, with its `format_type` spelling. */
export function base(typname: string, name: string = typname): PgType {
  return { kind: "base", oid: nextOid++, name, typname };
}

/** An enum type with its labels. */
export function enumType(name: string, labels: readonly string[]): PgType {
  return { kind: "enum", oid: nextOid++, name, typname: name, labels };
}

/** A domain over `baseType`. */
export function domain(name: string, baseType: PgType, notNull = false): PgType {
  return { kind: "domain", oid: nextOid++, name, typname: name, notNull, base: baseType };
}

/** An array of `element`. */
export function arrayOf(element: PgType): PgType {
  return {
    kind: "array",
    oid: nextOid++,
    name: `${element.name}[]`,
    typname: `_${element.typname}`,
    element,
  };
}

/** Representation modes as the config sets them. */
export interface Modes {
  readonly int8?: "bigint" | "string" | "number";
  readonly date?: "Date" | "string";
}

/** The default TS type of a Postgres type: the analyser's own mapping (SPEC's table). */
export function tsTypeOf(t: PgType, side: "param" | "result", modes: Modes = {}): TsType {
  return tsTypeFor(t, side, {
    int8: modes.int8 ?? "bigint",
    date: modes.date ?? "Date",
    overrides: [],
  });
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A parameter at `$position`. */
export function param(
  name: string,
  position: number,
  pgType: PgType,
  opts: { nullable?: boolean; modes?: Modes; tsType?: TsType } = {},
): ParamModel {
  return {
    name,
    tsName: camel(name),
    position,
    pgType,
    tsType: opts.tsType ?? tsTypeOf(pgType, "param", opts.modes),
    nullable: opts.nullable ?? false,
  };
}

/** A result column. */
export function column(
  name: string,
  pgType: PgType,
  opts: { nullable?: boolean; modes?: Modes; tsType?: TsType } = {},
): ColumnModel {
  return {
    name,
    tsName: camel(name),
    pgType,
    tsType: opts.tsType ?? tsTypeOf(pgType, "result", opts.modes),
    nullable: opts.nullable ?? false,
  };
}

/** A query. */
export function query(
  name: string,
  command: QueryCommand,
  sql: string,
  params: readonly ParamModel[],
  columns: readonly ColumnModel[],
  where: { file?: string; line?: number; doc?: readonly string[] } = {},
): QueryModel {
  return {
    name,
    file: where.file ?? "queries/test.sql",
    line: where.line ?? 1,
    command,
    sql,
    params,
    columns,
    doc: where.doc ?? [],
  };
}
