/**
 * `${VAR}` and `${VAR:-default}` substitution in configuration values, as in a POSIX shell
 * (without nesting). A `$` not followed by `{` is kept as is, so passwords with `$` work.
 */

/** The outcome of {@link substituteEnv}: the substituted text, or where the syntax is wrong. */
export type SubstitutionResult =
  | {
      readonly kind: "ok";
      readonly value: string;
      /** Names referenced without a default that are unset or empty, in order, once each. */
      readonly unset: readonly string[];
    }
  | {
      readonly kind: "error";
      readonly message: string;
      /** 0-based character offset of the bad reference in the input text. */
      readonly offset: number;
    };

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces every `${NAME}` with `env.NAME` (empty when unset) and every `${NAME:-default}`
 * with `env.NAME` when it is set and non-empty, else with `default` (taken literally).
 * An unterminated `${` or an invalid name is an error with its offset.
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): SubstitutionResult {
  let out = "";
  let i = 0;
  const unset = new Set<string>();
  while (i < text.length) {
    const start = text.indexOf("${", i);
    if (start < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    const end = text.indexOf("}", start + 2);
    if (end < 0) {
      return {
        kind: "error",
        message: "unterminated environment variable reference: missing `}`",
        offset: start,
      };
    }
    const body = text.slice(start + 2, end);
    const sep = body.indexOf(":-");
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!namePattern.test(name)) {
      return {
        kind: "error",
        message: `invalid environment variable reference \`\${${body}}\`: expected \`\${NAME}\` or \`\${NAME:-default}\``,
        offset: start,
      };
    }
    const value = env[name];
    if (sep < 0) {
      out += value ?? "";
      if (value === undefined || value === "") unset.add(name);
    } else out += value === undefined || value === "" ? body.slice(sep + 2) : value;
    i = end + 1;
  }
  return { kind: "ok", value: out, unset: [...unset] };
}
