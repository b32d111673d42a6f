/** Identifier spelling for generated TypeScript: case conversions and reserved words. */

// Words that cannot name a function or const in an ES module (strict mode).
const reservedWords = new Set(
  (
    "await break case catch class const continue debugger default delete do else enum export " +
    "extends false finally for function if implements import in instanceof interface let new " +
    "null package private protected public return static super switch this throw true try " +
    "typeof var void while with yield arguments eval undefined NaN Infinity"
  ).split(" "),
);

/** Splits a name into words at `_`, `-`, spaces and lower-to-upper case boundaries (`HTTPServer` -> HTTP, Server). */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "");
}

/** `get_user`, `GetUser`, `get-user` -> `GetUser`. Keeps acronyms as written (`GetURL`). */
export function pascalCase(name: string): string {
  const out = words(name)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/** `GetUser` -> `getUser`, `URLFor` -> `urlFor`, `ID` -> `id`. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  const lead = /^[A-Z]+(?=[A-Z][a-z]|$)|^[A-Z]/.exec(pascal);
  if (lead === null) return pascal;
  return lead[0].toLowerCase() + pascal.slice(lead[0].length);
}

/** A function or const name that is safe to declare: reserved words get a trailing `_`. */
export function safeIdentifier(name: string): string {
  return reservedWords.has(name) ? `${name}_` : name;
}

/** A property key as written in an interface or object literal: quoted unless a plain identifier. */
export function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** kebab-case of a PascalCase name: `UserService` -> `user-service`. */
export function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}
