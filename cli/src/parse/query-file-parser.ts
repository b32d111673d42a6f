/**
 * Parses annotated query files (sqlc syntax) with PostgreSQL's own scanner and parser
 * (libpg-query, WebAssembly). Never touches a database. Every problem becomes a diagnostic
 * with the file, line and column of what the user wrote.
 *
 * Statements are split at the scanner's `;` tokens (a syntax error in one statement must not
 * hide the others), annotations come from the scanner's comment tokens (in the PG 18 grammar
 * a leading comment lies outside the statement's range), and named parameters (`@x`,
 * `sqlc.arg(x)`, `sqlc.narg(x)`, `sqlc.slice(x)`) are rewritten to `$n` before parsing,
 * with an offset map back to the original text.
 */
import { loadModule, parseSync, type ScanToken, scanSync } from "libpg-query";
import { Codes, type Diagnostic, LineIndex } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";
import { type QueryCommand, supportedCommands } from "../model.js";
import type { PgNode } from "./pg-ast.js";
import { ByteOffsets, RewrittenText } from "./sql-text.js";

/** One parameter of a parsed query, by its `$n` position in the rewritten SQL. */
export interface ParsedParam {
  /** 1-based `$n`. */
  readonly position: number;
  /** The written name for named parameters; undefined for `$n`. */
  readonly name: string | undefined;
  /** `sqlc.narg(x)`: the caller may pass null. */
  readonly nullable: boolean;
  /** `sqlc.slice(x)`: an array parameter bound with `= ANY($n)`. */
  readonly slice: boolean;
}

/** One annotated statement of a query file. */
export interface ParsedQuery {
  readonly name: string;
  readonly command: QueryCommand;
  /** File path relative to the project folder. */
  readonly file: string;
  /** 1-based line of the annotation comment. */
  readonly line: number;
  /** Comment lines above the annotation (without `--`), for doc comments. */
  readonly doc: readonly string[];
  /** The statement as sent to the server, named parameters rewritten to `$n`. */
  readonly sql: string;
  readonly params: readonly ParsedParam[];
  /**
   * `sqlc.embed(t)` targets, rewritten to `t.*`: the table alias and the UTF-8 byte offset of
   * the `t.*` column reference in `sql` (as the syntax tree's `location` gives it).
   */
  readonly embeds: readonly { readonly alias: string; readonly location: number }[];
  /** The statement's syntax tree (e.g. `{ SelectStmt: {...} }`), of `sql`. */
  readonly ast: PgNode;
  /** Maps a 0-based character offset in `sql` to one in the file's text. */
  readonly toFileOffset: (sqlOffset: number) => number;
}

/** The result of parsing one query file. */
export interface ParsedQueryFile {
  readonly file: SourceFile;
  /** The policy it was parsed with (a memo of it is stale when the config changes this). */
  readonly unannotated: UnannotatedPolicy;
  readonly queries: readonly ParsedQuery[];
  readonly diagnostics: readonly Diagnostic[];
}

let loaded: Promise<void> | undefined;

/** Loads the WebAssembly parser once; every parse function needs it first. */
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

const annotationRe = /^--\s*name:\s*(\S+)\s*(?::(\S+))?\s*(.*)$/;
/** `/* name: GetUser :one *\/`, sqlc's other annotation form (one line or several). */
const blockAnnotationRe = /^\/\*\s*name:\s*([^\s*]+)\s*(?::([^\s*]+))?\s*([\s\S]*?)\s*\*\/$/;
const identRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const allCommands: readonly QueryCommand[] = [
  "one",
  "many",
  "exec",
  "execrows",
  "execresult",
  "copyfrom",
  "batchexec",
  "batchone",
  "batchmany",
];

/** A token with character (not byte) offsets into the file. */
interface Token {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly kind: string;
}

function isComment(t: Token): boolean {
  return t.kind === "SQL_COMMENT" || t.kind === "C_COMMENT";
}

/** What to do with a statement that has no annotation. */
export type UnannotatedPolicy = "warning" | "error";

/** Options of {@link parseQueryFile}. */
export interface ParseQueryFileOptions {
  /**
   * A statement without a `-- name:` annotation (DDL beside queries, a folder used as both
   * schema and queries) is skipped with an SVC002 warning, as sqlc skips it; `error` makes
   * it an error. Default `warning`.
   */
  readonly unannotated?: UnannotatedPolicy;
}

/** The annotation in a comment token (`-- name: X :cmd` or `/* name: X :cmd *\/`), if any. */
function annotationOf(t: Token): RegExpExecArray | null {
  if (t.kind === "SQL_COMMENT") return annotationRe.exec(t.text);
  if (t.kind === "C_COMMENT") return blockAnnotationRe.exec(t.text);
  return null;
}

/** The doc comment lines of a non-annotation comment. */
function docLines(t: Token): string[] {
  if (t.kind === "SQL_COMMENT") return [t.text.replace(/^--\s?/, "").trimEnd()];
  const inner = t.text.replace(/^\/\*+/, "").replace(/\*+\/$/, "");
  const lines = inner.split(/\r?\n/).map((l) => l.replace(/^\s*\*?\s?/, "").trimEnd());
  while (lines.length > 0 && lines[0] === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * Parses one query file. Requires {@link loadParser} to have resolved. Pure: the result
 * depends only on the file's path and text (and the options).
 */
export function parseQueryFile(
  file: SourceFile,
  options: ParseQueryFileOptions = {},
): ParsedQueryFile {
  const unannotated = options.unannotated ?? "warning";
  const diagnostics: Diagnostic[] = [];
  const text = file.text;
  const lines = new LineIndex(text);
  const at = (
    offset: number,
    code: Diagnostic["code"],
    message: string,
    hint?: string,
    severity: Diagnostic["severity"] = "error",
  ) => {
    const pos = lines.positionAt(offset);
    const d: Diagnostic = {
      severity,
      code,
      message,
      file: file.path,
      line: pos.line,
      column: pos.column,
      ...(hint === undefined ? {} : { hint }),
    };
    diagnostics.push(d);
  };

  const bytes = new ByteOffsets(text);
  let raw: ScanToken[];
  try {
    raw = scanSync(text).tokens;
  } catch {
    // The scanner fails only on lexical errors (an unterminated string or comment); the
    // parser reports those with a position.
    const err = parseStatement(text);
    const where = err.kind === "error" ? err : undefined;
    at(where?.offset ?? 0, Codes.syntax, where?.message ?? "SQL could not be tokenized");
    return { file, unannotated, queries: [], diagnostics };
  }
  const tokens: Token[] = raw.map((t) => ({
    start: bytes.toChar(t.start),
    end: bytes.toChar(t.end),
    text: t.text,
    kind: t.tokenName,
  }));

  // Split into chunks at top-level semicolons; each chunk is leading comments + one statement.
  const chunks: Token[][] = [];
  let current: Token[] = [];
  for (const t of tokens) {
    if (t.kind === "ASCII_59") {
      chunks.push(current);
      current = [];
    } else {
      current.push(t);
    }
  }
  if (current.length > 0) chunks.push(current);

  const queries: ParsedQuery[] = [];
  for (const chunk of chunks) {
    const firstCode = chunk.findIndex((t) => !isComment(t));
    const leading = firstCode === -1 ? chunk : chunk.slice(0, firstCode);
    const body = firstCode === -1 ? [] : chunk.slice(firstCode);
    // The annotation is the last `-- name:` (or `/* name: */`) comment before the statement.
    let annotation: Token | undefined;
    let m: RegExpExecArray | null = null;
    const doc: string[] = [];
    for (const c of leading) {
      const found = annotationOf(c);
      if (found !== null) {
        annotation = c;
        m = found;
      } else {
        doc.push(...docLines(c));
      }
    }
    if (body.length === 0) {
      if (annotation !== undefined) {
        at(
          annotation.start,
          Codes.missingAnnotation,
          "annotation is not followed by a statement",
          "write the query after the `-- name:` line, ending it with `;`",
        );
      }
      continue;
    }
    const first = body[0]!;
    if (annotation === undefined || m === null) {
      // sqlc skips such statements (DDL beside queries, a folder that is both schema and
      // queries); so does svcgen, saying so, unless the project makes it an error.
      at(
        first.start,
        Codes.missingAnnotation,
        unannotated === "error"
          ? "statement has no `-- name: <Name> :<command>` annotation"
          : "statement has no `-- name: <Name> :<command>` annotation; it is skipped",
        unannotated === "error"
          ? "add a line such as `-- name: GetUser :one` above the statement"
          : "add a line such as `-- name: GetUser :one` above it to generate a function, or move it out of the query files",
        unannotated,
      );
      continue;
    }
    const name = m[1] ?? "";
    const cmd = m[2];
    const line = lines.positionAt(annotation.start).line;
    if (!identRe.test(name)) {
      at(
        annotation.start,
        Codes.badAnnotation,
        `query name "${name}" is not a valid identifier`,
        "use letters, digits and underscores, starting with a letter, e.g. GetUser",
      );
      continue;
    }
    if (cmd === undefined) {
      at(
        annotation.start,
        Codes.badAnnotation,
        `query ${name} has no command`,
        "end the annotation with :one, :many, :exec, :execrows or :execresult",
      );
      continue;
    }
    if (!(allCommands as readonly string[]).includes(cmd)) {
      const col = annotation.text.indexOf(`:${cmd}`);
      at(
        annotation.start + Math.max(0, col),
        Codes.badAnnotation,
        `unknown command ":${cmd}" for query ${name}`,
        "use one of :one, :many, :exec, :execrows, :execresult, :copyfrom, :batchexec, :batchone, :batchmany",
      );
      continue;
    }
    const command = cmd as QueryCommand;
    if (!supportedCommands.includes(command)) {
      const col = annotation.text.indexOf(`:${cmd}`);
      at(
        annotation.start + Math.max(0, col),
        Codes.unsupported,
        `command ":${cmd}" of query ${name} is not supported yet`,
        "use :one, :many, :exec, :execrows or :execresult",
      );
      continue;
    }
    const last = body[body.length - 1]!;
    const stmtStart = first.start;
    const stmtText = text.slice(stmtStart, last.end);
    const params = collectParams(body, stmtStart, (off, msg, hint) =>
      at(off, Codes.parameter, msg, hint),
    );
    if (params === undefined) continue;
    const rewritten = new RewrittenText(stmtText, stmtStart, params.edits);
    const sql = rewritten.text;
    const parsed = parseStatement(sql);
    if (parsed.kind === "error") {
      at(rewritten.toOriginal(parsed.offset), Codes.syntax, parsed.message);
      continue;
    }
    const stmt = parsed.stmt;
    if (stmt === undefined) continue;
    queries.push({
      name,
      command,
      file: file.path,
      line,
      doc,
      sql,
      params: params.params,
      embeds: params.embeds.map((e) => {
        const at = rewritten.replacementAt(e.start) ?? 0;
        return { alias: e.alias, location: Buffer.byteLength(sql.slice(0, at), "utf8") };
      }),
      ast: stmt,
      toFileOffset: (o) => rewritten.toOriginal(o),
    });
  }
  return { file, unannotated, queries, diagnostics };
}

/** Parses one statement: its tree, or the parser's error with a 0-based character offset. */
function parseStatement(
  sql: string,
): { kind: "ok"; stmt: PgNode | undefined } | { kind: "error"; message: string; offset: number } {
  try {
    const tree = parseSync(sql) as unknown as { stmts?: { stmt: PgNode }[] };
    return { kind: "ok", stmt: tree.stmts?.[0]?.stmt };
  } catch (e) {
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } })
      .sqlDetails;
    // libpg-query reports a 0-based character offset.
    return {
      kind: "error",
      message: details?.message ?? (e as Error).message,
      offset: details?.cursorPosition ?? 0,
    };
  }
}

interface ParamScan {
  readonly params: ParsedParam[];
  readonly edits: { start: number; end: number; replacement: string }[];
  /** sqlc.embed targets: alias and the edit's start (relative to the statement). */
  readonly embeds: { alias: string; start: number }[];
}

/**
 * Finds the parameters of one statement in its tokens and the edits that rewrite named ones
 * to `$n`. Offsets in edits are relative to the statement start. Returns undefined (after
 * reporting) when the parameters are unusable.
 */
function collectParams(
  body: readonly Token[],
  base: number,
  report: (offset: number, message: string, hint?: string) => void,
): ParamScan | undefined {
  // `named`: the parameter whose number replaces `$#` in `replacement` once all are known.
  const edits: { start: number; end: number; replacement: string; named?: string }[] = [];
  const named = new Map<string, ParsedParam>();
  const namedOrder: ParsedParam[] = [];
  const embeds: { alias: string; start: number }[] = [];
  /** The `$n` numbers written. */
  const positional = new Set<number>();
  let firstPositional: number | undefined;
  let ok = true;

  const useNamed = (name: string, kind: "arg" | "narg" | "slice", offset: number): string => {
    const existing = named.get(name);
    if (existing !== undefined) {
      const kindOf = existing.slice ? "slice" : existing.nullable ? "narg" : "arg";
      if (kindOf !== kind && !(kind === "arg" && kindOf === "narg")) {
        report(
          offset,
          `parameter "${name}" is used both as sqlc.${kindOf} and sqlc.${kind}`,
          "use one form for every occurrence of a parameter",
        );
        ok = false;
      }
      return name;
    }
    const p: ParsedParam = {
      position: 0,
      name,
      nullable: kind === "narg",
      slice: kind === "slice",
    };
    named.set(name, p);
    namedOrder.push(p);
    return name;
  };

  for (let i = 0; i < body.length; i++) {
    const t = body[i]!;
    if (t.kind === "PARAM") {
      firstPositional ??= t.start;
      const n = Number.parseInt(t.text.slice(1), 10);
      positional.add(n);
      continue;
    }
    // @name: the `@` operator immediately followed by an identifier.
    const next = body[i + 1];
    if (t.text === "@" && next !== undefined && next.start === t.end && isIdentToken(next)) {
      const pos = useNamed(next.text, "arg", t.start);
      edits.push({ start: t.start - base, end: next.end - base, replacement: "$#", named: pos });
      i++;
      continue;
    }
    // sqlc.arg(name), sqlc.narg(name), sqlc.slice(name), sqlc.embed(t)
    if (t.text.toLowerCase() === "sqlc" && body[i + 1]?.text === ".") {
      const fn = body[i + 2];
      const open = body[i + 3];
      const argTok = body[i + 4];
      const close = body[i + 5];
      const fnName = fn?.text.toLowerCase();
      if (
        fn === undefined ||
        open?.text !== "(" ||
        argTok === undefined ||
        close?.text !== ")" ||
        !["arg", "narg", "slice", "embed"].includes(fnName ?? "")
      ) {
        report(
          t.start,
          `malformed sqlc macro "${body
            .slice(i, i + 6)
            .map((x) => x.text)
            .join("")}"`,
          "use sqlc.arg(name), sqlc.narg(name) or sqlc.slice(name)",
        );
        ok = false;
        continue;
      }
      const argName = argTok.kind === "SCONST" ? argTok.text.slice(1, -1) : argTok.text;
      if (fnName === "embed") {
        // The table's columns, nested under its name in the row type.
        embeds.push({ alias: argName, start: t.start - base });
        edits.push({ start: t.start - base, end: close.end - base, replacement: `${argName}.*` });
        i += 5;
        continue;
      }
      const pos = useNamed(argName, fnName as "arg" | "narg" | "slice", t.start);
      if (fnName === "slice") {
        // `x IN (sqlc.slice(ids))` becomes `x = ANY($n)`; `NOT IN` becomes `<> ALL($n)`.
        const lparen = body[i - 1];
        const inTok = body[i - 2];
        const notTok = body[i - 3];
        const rparen = body[i + 6];
        if (lparen?.text === "(" && inTok?.text.toLowerCase() === "in" && rparen?.text === ")") {
          const negated = notTok?.text.toLowerCase() === "not";
          const from = negated ? notTok! : inTok;
          edits.push({
            start: from.start - base,
            end: rparen.end - base,
            replacement: negated ? "<> ALL($#)" : "= ANY($#)",
            named: pos,
          });
          i += 6;
          continue;
        }
      }
      edits.push({ start: t.start - base, end: close.end - base, replacement: "$#", named: pos });
      i += 5;
    }
  }
  if (!ok) return undefined;
  // sqlc keeps the `$n` written and gives each named parameter the lowest number no `$n`
  // uses, in order of first appearance (its preprocess.number and named.ParamSet):
  // `$1 ... @a ... $2 ... @b` is $1, $3 (a), $2, $4 (b), and `$1, @v, $3` gives @v $2. With a
  // database to analyse against (as svcgen always has) sqlc accepts such a filled gap; only
  // its offline analyser rejects any gap in the written numbers (validatePlaceholders).
  const taken = new Set(positional);
  let next = 1;
  const byName = new Map<string, number>();
  for (const p of namedOrder) {
    while (taken.has(next)) next++;
    taken.add(next);
    byName.set(p.name ?? "", next);
  }
  const missing = firstGap([...taken]);
  if (namedOrder.length > 0 && missing !== undefined) {
    report(
      firstPositional ?? 0,
      `parameter $${missing} is not used, but $${Math.max(...taken)} is`,
      "number the $n parameters without a gap the named parameters do not fill",
    );
    return undefined;
  }
  const positionOf = (name: string): number => byName.get(name) ?? 0;
  const numbered = namedOrder.map((p) => ({ ...p, position: positionOf(p.name ?? "") }));
  const finalEdits = edits.map((e) =>
    e.named === undefined
      ? { start: e.start, end: e.end, replacement: e.replacement }
      : {
          start: e.start,
          end: e.end,
          replacement: e.replacement.replace("$#", () => `$${positionOf(e.named ?? "")}`),
        },
  );
  const params: ParsedParam[] = [];
  const max = Math.max(0, ...taken);
  for (let n = 1; n <= max; n++) {
    params.push(
      numbered.find((p) => p.position === n) ?? {
        position: n,
        name: undefined,
        nullable: false,
        slice: false,
      },
    );
  }
  return { params, edits: finalEdits, embeds };
}

/** The smallest n >= 1 missing from `numbers` below their maximum, if any. */
function firstGap(numbers: Iterable<number>): number | undefined {
  const set = new Set(numbers);
  if (set.size === 0) return undefined;
  const max = Math.max(...set);
  for (let n = 1; n <= max; n++) if (!set.has(n)) return n;
  return undefined;
}

function isIdentToken(t: Token): boolean {
  return t.kind === "IDENT" || /^[A-Za-z_][A-Za-z0-9_]*$/.test(t.text);
}
