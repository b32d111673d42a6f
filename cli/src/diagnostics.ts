/**
 * Diagnostics are data: every problem in a user's inputs becomes one of these, collected
 * across the whole run and printed once by the command layer. Nothing in parse, analyse or
 * emit throws for a user error.
 */

/** How bad a diagnostic is. `error` makes the run exit 1. */
export type Severity = "error" | "warning";

/**
 * Stable diagnostic codes. SVC0xx: query files and SQL; SVC1xx: configuration and schema;
 * SVC2xx: drift found by `svcgen check`; SVC3xx: proto and bindings.
 */
export const Codes = {
  /** SQL syntax error reported by PostgreSQL's parser. */
  syntax: "SVC001",
  /** A statement without a `-- name: X :cmd` annotation. */
  missingAnnotation: "SVC002",
  /** An annotation that is malformed or names an unknown command. */
  badAnnotation: "SVC003",
  /** Two queries with the same name in one project. */
  duplicateName: "SVC004",
  /** The server rejected the statement (unknown column, table, type mismatch, ...). */
  server: "SVC005",
  /** A parameter problem (mixed `$n` and named, bad sqlc.* call, gaps in `$n`). */
  parameter: "SVC006",
  /** A command the annotation names that does not fit the statement (`:one` with no result). */
  commandMismatch: "SVC007",
  /** A feature that is recognised but not supported yet. */
  unsupported: "SVC008",
  /** A query file that cannot be read. */
  io: "SVC009",
  /** The nullability analysis failed on a statement: its result columns are all nullable. */
  nullability: "SVC010",
  /** Invalid configuration. */
  config: "SVC100",
  /** A migration the server rejected. */
  migration: "SVC101",
  /** The database could not be reached or started. */
  database: "SVC102",
  /** A text template (built-in or a `templates:` override) that does not compile or render. */
  template: "SVC103",
} as const;

/** One of {@link Codes}. */
export type DiagnosticCode = (typeof Codes)[keyof typeof Codes] | `SVC${number}`;

/**
 * A problem found in the user's inputs. `file` is relative to the project folder (the folder
 * of svcgen.yaml) with forward slashes; `line` and `column` are 1-based and count characters
 * (UTF-16 code units), not bytes. A diagnostic about the project as a whole has no location.
 */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: DiagnosticCode;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** What to do about it, printed after the source frame. */
  readonly hint?: string;
}

/** A position in a source text. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Converts a 0-based character offset in `text` into a 1-based line and column.
 * Offsets past the end are clamped to the end of the text.
 */
export function positionAt(text: string, offset: number): SourcePosition {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Line starts of a text, for many offset-to-position conversions of one file in O(log n)
 * each (positionAt walks from the start every time).
 */
export class LineIndex {
  readonly #starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.#starts.push(i + 1);
  }

  /** Like {@link positionAt}. */
  positionAt(offset: number): SourcePosition {
    const end = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#starts[mid] ?? 0) <= end) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: end - (this.#starts[lo] ?? 0) + 1 };
  }
}

/**
 * Converts a UTF-8 byte offset into a character (UTF-16 code unit) offset of the same text.
 * libpg-query and PostgreSQL report byte offsets; editors and our diagnostics use characters.
 */
export function byteToCharOffset(text: string, byteOffset: number): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    if (bytes >= byteOffset) return i;
    const code = text.codePointAt(i) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (code >= 0x10000) i++;
  }
  return text.length;
}

/** Sorts diagnostics by file, line, column, then message, for deterministic output. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      (a.file ?? "").localeCompare(b.file ?? "") ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      a.message.localeCompare(b.message),
  );
}

/**
 * Formats one diagnostic like a compiler: `file:line:col: error SVC005: message`, then the
 * source line and a caret under the column when `source` (the file's text) is given, then
 * the hint.
 */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  const where =
    d.file === undefined
      ? ""
      : d.line === undefined
        ? `${d.file}: `
        : `${d.file}:${d.line}:${d.column ?? 1}: `;
  const out = [`${where}${d.severity} ${d.code}: ${d.message}`];
  if (source !== undefined && d.line !== undefined) {
    const lineText = source.split(/\r?\n/)[d.line - 1];
    if (lineText !== undefined) {
      const gutter = `${d.line} | `;
      out.push(`${gutter}${lineText}`);
      const col = Math.max(1, d.column ?? 1);
      const pad = lineText.slice(0, col - 1).replace(/[^\t]/g, " ");
      out.push(`${" ".repeat(gutter.length - 2)}| ${pad}^`);
    }
  }
  if (d.hint !== undefined) out.push(`  hint: ${d.hint}`);
  return out.join("\n");
}

/** True when any diagnostic is an error. */
export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === "error");
}
