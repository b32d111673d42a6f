/**
 * Applying migration files to a database, with every server error mapped back to its file,
 * line and column. Statements are found with libpg-query (PostgreSQL's own parser for the
 * statement boundaries, its scanner for where each statement's first token is), never by
 * scanning SQL text by hand.
 */
import { loadModule, parseSync, scanSync } from "libpg-query";
import pg from "pg";
import { byteToCharOffset, Codes, type Diagnostic, positionAt } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";

/** A statement of a migration file: character offsets in the file. */
export interface StatementSpan {
  /** Where the statement's text begins (after the previous `;`, comments included). */
  readonly start: number;
  readonly end: number;
  /** Its first token: where an error without a position is shown. */
  readonly firstToken: number;
  /** Whether it is BEGIN/COMMIT/ROLLBACK/SAVEPOINT and the like. */
  readonly transactionControl: boolean;
}

let parserReady: Promise<void> | undefined;

/**
 * Applies `migrations` in order on `client`; the first failure as an SVC101 diagnostic (with
 * how many later migrations were skipped, since they may depend on it), or undefined when
 * all applied. Errors other than the server rejecting SQL (a lost connection) are thrown.
 */
export async function applyMigrations(
  client: pg.Client,
  migrations: readonly SourceFile[],
  progress: (message: string) => void,
): Promise<Diagnostic | undefined> {
  for (const [i, file] of migrations.entries()) {
    progress(`applying ${file.path}`);
    const problem = await applyMigration(client, file);
    if (problem !== undefined) {
      const skipped = migrations.length - i - 1;
      const note =
        skipped > 0
          ? `${skipped} later migration${skipped === 1 ? " was" : "s were"} not applied`
          : undefined;
      const hint = [problem.hint, note].filter((x) => x !== undefined).join("; ");
      return { ...problem, ...(hint !== "" ? { hint } : {}) };
    }
  }
  return undefined;
}

/**
 * Applies one migration file; returns the SVC101 diagnostic when the server rejects it.
 *
 * The whole file goes as one simple-protocol query: fast, and atomic (an implicit transaction),
 * so a failure leaves nothing behind. The server's error position is then a character offset
 * into the file. An error without a position (a failed constraint, a statement that cannot run
 * in a transaction block) is re-run statement by statement, as psql would, to find the failing
 * statement. A file with its own BEGIN/COMMIT is always run statement by statement, since a
 * COMMIT in the middle would make a failed whole-file run only partly undone.
 */
async function applyMigration(
  client: pg.Client,
  file: SourceFile,
): Promise<Diagnostic | undefined> {
  const statements = await splitStatements(file.text);
  const ownTransactions = statements?.some((s) => s.transactionControl) ?? false;
  if (!ownTransactions) {
    try {
      await client.query(file.text);
      return undefined;
    } catch (err) {
      if (!(err instanceof pg.DatabaseError)) throw err;
      const pos = serverPosition(err);
      if (pos !== undefined) {
        return migrationError(file, codePointsToCharOffset(file.text, 0, pos), err);
      }
      // The file was parsed by the server, so our parser can split it too; if it cannot
      // (grammar differences), the start of the file is the best place to point at.
      if (statements === undefined) return migrationError(file, 0, err);
    }
  }
  for (const stmt of statements ?? []) {
    try {
      await client.query(file.text.slice(stmt.start, stmt.end));
    } catch (err) {
      if (!(err instanceof pg.DatabaseError)) throw err;
      const pos = serverPosition(err);
      const offset =
        pos !== undefined ? codePointsToCharOffset(file.text, stmt.start, pos) : stmt.firstToken;
      return migrationError(file, offset, err);
    }
  }
  return undefined;
}

/**
 * Splits SQL into statements with libpg-query; undefined when it does not parse. Each
 * statement's first token comes from the scanner, which knows PostgreSQL's comment and
 * whitespace rules (nested block comments included).
 */
export async function splitStatements(text: string): Promise<StatementSpan[] | undefined> {
  parserReady ??= loadModule();
  await parserReady;
  let parsed: ReturnType<typeof parseSync>;
  let tokenStarts: number[];
  try {
    parsed = parseSync(text);
    tokenStarts = scanSync(text)
      .tokens.filter((t) => t.tokenName !== "SQL_COMMENT" && t.tokenName !== "C_COMMENT")
      .map((t) => t.start);
  } catch {
    return undefined;
  }
  return (parsed.stmts ?? []).map((s) => {
    // Locations are UTF-8 byte offsets; 0 is omitted; a length of 0 means "to the end".
    const byteStart = s.stmt_location ?? 0;
    const byteEnd = s.stmt_len ? byteStart + s.stmt_len : Number.POSITIVE_INFINITY;
    const firstByte = tokenStarts.find((t) => t >= byteStart && t < byteEnd) ?? byteStart;
    return {
      start: byteToCharOffset(text, byteStart),
      end: s.stmt_len ? byteToCharOffset(text, byteEnd) : text.length,
      firstToken: byteToCharOffset(text, firstByte),
      transactionControl: s.stmt !== undefined && "TransactionStmt" in s.stmt,
    };
  });
}

/** The server's 1-based error position as a 0-based count of characters, if it gave one. */
function serverPosition(err: pg.DatabaseError): number | undefined {
  const pos = err.position === undefined ? Number.NaN : Number.parseInt(err.position, 10);
  return Number.isFinite(pos) && pos > 0 ? pos - 1 : undefined;
}

function migrationError(file: SourceFile, offset: number, err: pg.DatabaseError): Diagnostic {
  const { line, column } = positionAt(file.text, offset);
  const hint = [err.detail, err.hint].filter((s) => s !== undefined && s !== "").join("; ");
  return {
    severity: "error",
    code: Codes.migration,
    message: err.message,
    file: file.path,
    line,
    column,
    ...(hint !== "" ? { hint } : {}),
  };
}

/**
 * Advances `count` code points from character offset `from`: PostgreSQL counts positions in
 * characters of the server encoding (code points), JavaScript strings in UTF-16 units.
 */
function codePointsToCharOffset(text: string, from: number, count: number): number {
  let i = from;
  for (let n = 0; n < count && i < text.length; n++) {
    const code = text.codePointAt(i) ?? 0;
    i += code >= 0x10000 ? 2 : 1;
  }
  return i;
}
