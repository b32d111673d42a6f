/**
 * The three output formats of `svcgen check`: human (compiler-style diagnostics with source
 * frames), JSON (an array of diagnostic objects) and GitHub Actions workflow commands
 * (`::error file=...,line=...,col=...::message`, which GitHub shows as annotations).
 */
import { type Diagnostic, formatDiagnostic, sortDiagnostics } from "../diagnostics.js";

/** The `--format` values. */
export const checkFormats = ["human", "json", "github"] as const;

/** One of {@link checkFormats}. */
export type CheckFormat = (typeof checkFormats)[number];

/** Text for stdout and stderr. */
export interface RenderedOutput {
  readonly out: string;
  readonly err: string;
}

/**
 * Renders diagnostics in `format`, sorted by place. Human output goes to stderr (like
 * `generate`), followed by an error count; JSON and GitHub output go to stdout, since they are
 * meant for programs, and print `[]` / nothing when clean.
 */
export function renderDiagnostics(
  list: readonly Diagnostic[],
  format: CheckFormat,
  sources: ReadonlyMap<string, string>,
): RenderedOutput {
  const sorted = sortDiagnostics(list);
  switch (format) {
    case "json":
      return { out: `${JSON.stringify(sorted.map(toJson), null, 2)}\n`, err: "" };
    case "github":
      return { out: sorted.map((d) => `${githubAnnotation(d)}\n`).join(""), err: "" };
    case "human": {
      const lines = sorted.map(
        (d) => `${formatDiagnostic(d, d.file === undefined ? undefined : sources.get(d.file))}\n`,
      );
      const errors = list.filter((d) => d.severity === "error").length;
      const warnings = list.length - errors;
      if (list.length > 0) {
        lines.push(
          `${errors} error${errors === 1 ? "" : "s"}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}\n`,
        );
      }
      return { out: "", err: lines.join("") };
    }
  }
}

/** A diagnostic as a plain JSON object with keys in a fixed order, absent fields left out. */
function toJson(d: Diagnostic): Record<string, string | number> {
  const o: Record<string, string | number> = { severity: d.severity, code: d.code };
  if (d.file !== undefined) o.file = d.file;
  if (d.line !== undefined) o.line = d.line;
  if (d.column !== undefined) o.column = d.column;
  o.message = d.message;
  if (d.hint !== undefined) o.hint = d.hint;
  return o;
}

/**
 * One GitHub workflow command. Data is escaped as the runner expects (`%`, CR, LF), property
 * values also `:` and `,`; the hint becomes a second line of the annotation.
 */
export function githubAnnotation(d: Diagnostic): string {
  const props: string[] = [];
  if (d.file !== undefined) props.push(`file=${escapeProperty(d.file)}`);
  if (d.line !== undefined) props.push(`line=${d.line}`);
  if (d.column !== undefined) props.push(`col=${d.column}`);
  props.push(`title=${escapeProperty(d.code)}`);
  const text = d.hint === undefined ? d.message : `${d.message}\nhint: ${d.hint}`;
  return `::${d.severity} ${props.join(",")}::${escapeData(text)}`;
}

function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}
