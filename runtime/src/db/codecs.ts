/**
 * Codecs between PostgreSQL's text format and JavaScript values. The generator picks one per
 * column and parameter from the Postgres type at generate time; nothing here looks at OIDs,
 * because enum, domain and array OIDs differ from one database to the next.
 */

/** Any value `JSON.parse` can produce: the TypeScript type of `json` and `jsonb` values. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Turns the text form of one non-null value into its JavaScript value. */
export type Decoder<T = unknown> = (text: string) => T;

/**
 * Turns a parameter value into what node-postgres sends: a string, a Buffer (sent as binary),
 * an array (node-postgres writes it as an array literal) or null. `null` and `undefined`
 * always become SQL NULL.
 */
export type Encoder = (value: unknown) => unknown;

/** Keeps the text as is: text-like types, numeric, money, uuid, time, interval, enums, unknown types. */
export const decodeText: Decoder<string> = (text) => text;

/** int2, int4, oid, float4, float8. `NaN`, `Infinity` and `-Infinity` decode to those numbers. */
export const decodeNumber: Decoder<number> = (text) => Number(text);

/** int8 as `bigint` (the default int8 mode). */
export const decodeBigInt: Decoder<bigint> = (text) => BigInt(text);

/** bool: PostgreSQL writes `t` or `f`. */
export const decodeBool: Decoder<boolean> = (text) => text === "t";

/** json and jsonb: the parsed document. */
export const decodeJson: Decoder<JsonValue> = (text) => JSON.parse(text) as JsonValue;

// ISO DateStyle output: `2024-01-02 03:04:05.123456+05:30`, optionally followed by ` BC`.
const timestampPattern =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?|(Z))?( BC)?$/;

const twoDigits = (t: string, i: number): number =>
  (t.charCodeAt(i) - 48) * 10 + (t.charCodeAt(i + 1) - 48);

/**
 * The fast path of {@link parseTimestamp}, without a regular expression, for what the server
 * sends almost always: a 4-digit year from 100 on (Date.UTC maps 0-99 to the 1900s), an
 * optional time with fraction, an optional offset, no BC. NaN for anything else.
 */
function parseCommonTimestamp(t: string): number {
  const len = t.length;
  if (len < 10 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45) return Number.NaN;
  const year = twoDigits(t, 0) * 100 + twoDigits(t, 2);
  if (!(year >= 100)) return Number.NaN;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let ms = 0;
  let i = 10;
  if (len > 10 && t.charCodeAt(10) === 32) {
    if (len < 19 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return Number.NaN;
    h = twoDigits(t, 11);
    mi = twoDigits(t, 14);
    sec = twoDigits(t, 17);
    i = 19;
    if (t.charCodeAt(i) === 46) {
      i++;
      let digits = 0;
      for (; i < len; i++) {
        const c = t.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        if (digits < 3) ms = ms * 10 + c;
        digits++;
      }
      if (digits === 1) ms *= 100;
      else if (digits === 2) ms *= 10;
    }
  }
  let offsetSeconds = 0;
  if (i < len) {
    const sign = t.charCodeAt(i);
    if ((sign !== 43 && sign !== 45) || len < i + 3) return Number.NaN;
    offsetSeconds = twoDigits(t, i + 1) * 3600;
    i += 3;
    if (i < len && t.charCodeAt(i) === 58) {
      offsetSeconds += twoDigits(t, i + 1) * 60;
      i += 3;
    }
    if (i < len && t.charCodeAt(i) === 58) {
      offsetSeconds += twoDigits(t, i + 1);
      i += 3;
    }
    // Anything left (` BC`) takes the general path.
    if (i !== len) return Number.NaN;
    if (sign === 45) offsetSeconds = -offsetSeconds;
  }
  return (
    Date.UTC(year, twoDigits(t, 5) - 1, twoDigits(t, 8), h, mi, sec, ms) - offsetSeconds * 1000
  );
}

/**
 * Parses PostgreSQL's ISO output of date, timestamp and timestamptz. Without an offset in the
 * text the value is taken as UTC. Fractions beyond milliseconds are truncated (a JS Date holds
 * milliseconds). `infinity` and `-infinity` become an Invalid Date, the only Date that is
 * neither before nor after every other. Text in a DateStyle other than ISO is rejected
 * rather than guessed at.
 */
function parseTimestamp(text: string): Date {
  const fast = parseCommonTimestamp(text);
  if (!Number.isNaN(fast)) return new Date(fast);
  const m = timestampPattern.exec(text);
  if (m === null) {
    if (text === "infinity" || text === "-infinity") return new Date(Number.NaN);
    // Other DateStyles (SQL, Postgres, German) are ambiguous without the session's settings.
    throw new RangeError(
      `Cannot read date/time value ${JSON.stringify(text)}: set the session's DateStyle to ISO (the default)`,
    );
  }
  let year = Number(m[1]);
  // Year 1 BC is year 0 in the proleptic calendar JavaScript uses.
  if (m[13] !== undefined) year = 1 - year;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), ms);
  if (m[8] !== undefined) {
    const offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    const sign = m[8] === "-" ? -1 : 1;
    return new Date(d.getTime() - sign * offsetSeconds * 1000);
  }
  return d;
}

/** timestamptz: the instant, whatever the session's time zone. */
export const decodeTimestamptz: Decoder<Date> = parseTimestamp;

/** timestamp without time zone: the wall-clock value read as UTC, independent of the host's zone. */
export const decodeTimestamp: Decoder<Date> = parseTimestamp;

/** date: a Date at UTC midnight of that day. */
export const decodeDate: Decoder<Date> = parseTimestamp;

/**
 * bytea in the `hex` output format (the default since PostgreSQL 9.0), with a fallback for
 * the old `escape` format so a server configured with `bytea_output = escape` still works.
 */
export const decodeBytea: Decoder<Buffer> = (text) => {
  if (text.startsWith("\\x")) return Buffer.from(text.slice(2), "hex");
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      bytes.push(c);
    } else if (text[i + 1] === "\\") {
      bytes.push(0x5c);
      i++;
    } else {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Buffer.from(bytes);
};

/** A decoded array: elements, NULL elements, and nested arrays for multi-dimensional values. */
export type DecodedArray<T> = Array<T | null | DecodedArray<T>>;

/**
 * Decodes a PostgreSQL array literal (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`,
 * `[0:1]={1,2}`) and applies `element` to every non-NULL element. A quoted `"NULL"` is the
 * string NULL; an unquoted NULL is a NULL element. The delimiter is `,`, which holds for every
 * type svcgen maps (only `box` uses `;`).
 */
export function decodeArray<T>(element: Decoder<T>): Decoder<DecodedArray<T>> {
  return (text) => parseArrayLiteral(text, element);
}

function parseArrayLiteral<T>(text: string, element: Decoder<T>): DecodedArray<T> {
  let pos = 0;
  // Non-default lower bounds are written as a dimension prefix; the values are what matter.
  if (text.startsWith("[")) {
    const eq = text.indexOf("=");
    pos = eq + 1;
  }
  const parseLevel = (): DecodedArray<T> => {
    const out: DecodedArray<T> = [];
    // Skips the opening brace.
    pos++;
    if (text[pos] === "}") {
      pos++;
      return out;
    }
    for (;;) {
      const ch = text[pos];
      if (ch === "{") {
        out.push(parseLevel());
      } else if (ch === '"') {
        pos++;
        let value = "";
        let start = pos;
        for (;;) {
          const c = text[pos];
          if (c === undefined)
            throw new SyntaxError(`Unterminated quoted array element in ${text}`);
          if (c === "\\") {
            value += text.slice(start, pos) + (text[pos + 1] ?? "");
            pos += 2;
            start = pos;
          } else if (c === '"') {
            value += text.slice(start, pos);
            pos++;
            break;
          } else {
            pos++;
          }
        }
        out.push(element(value));
      } else {
        const start = pos;
        while (pos < text.length && text[pos] !== "," && text[pos] !== "}") pos++;
        const raw = text.slice(start, pos).trim();
        out.push(raw.toUpperCase() === "NULL" ? null : element(raw));
      }
      const sep = text[pos];
      pos++;
      if (sep === "}") return out;
      if (sep !== ",") throw new SyntaxError(`Malformed array literal ${text}`);
    }
  };
  if (text[pos] !== "{") throw new SyntaxError(`Malformed array literal ${text}`);
  return parseLevel();
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** Formats the UTC calendar date of `d` as PostgreSQL reads it, BC years included. */
function formatUtcDate(d: Date): string {
  const y = d.getUTCFullYear();
  const year = y <= 0 ? 1 - y : y;
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function formatUtcTimestamp(d: Date, zone: string): string {
  const time = `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}`;
  const bc = d.getUTCFullYear() <= 0 ? " BC" : "";
  return `${formatUtcDate(d)}T${time}${zone}${bc}`;
}

function checkDate(d: Date): Date {
  if (Number.isNaN(d.getTime())) throw new RangeError("Invalid Date passed as a query parameter");
  return d;
}

/**
 * The default parameter encoder: Date as an ISO instant, bigint as its digits, any
 * Uint8Array as a Buffer (sent as binary), everything else as node-postgres prepares it.
 */
export const encodeValue: Encoder = (value) => {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return formatUtcTimestamp(checkDate(value), "Z");
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
};

/** timestamptz parameters: a Date is sent as its UTC instant with `Z`; strings pass through. */
export const encodeTimestamptz: Encoder = encodeValue;

/** timestamp parameters: a Date's UTC wall-clock time without a zone, mirroring decodeTimestamp. */
export const encodeTimestamp: Encoder = (value) =>
  value instanceof Date ? formatUtcTimestamp(checkDate(value), "") : encodeValue(value);

/** date parameters: a Date's UTC calendar day `YYYY-MM-DD`; strings pass through. */
export const encodeDate: Encoder = (value) => {
  if (!(value instanceof Date)) return encodeValue(value);
  const d = checkDate(value);
  return formatUtcDate(d) + (d.getUTCFullYear() <= 0 ? " BC" : "");
};

/**
 * json and jsonb parameters: always `JSON.stringify`, so a JS array becomes a JSON array
 * (node-postgres would otherwise send a Postgres array) and a JS string a JSON string.
 * Only `null`/`undefined` become SQL NULL; to store a JSON `null`, cast in SQL.
 */
export const encodeJson: Encoder = (value) =>
  value === undefined || value === null ? null : JSON.stringify(value);

/**
 * json[] and jsonb[] parameters: each item is one JSON document, so a JS array inside is a
 * JSON array, not a nested dimension (multi-dimensional json arrays are not supported).
 */
export const encodeJsonArray: Encoder = (value) => {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) return encodeJson(value);
  return value.map((v: unknown) => encodeJson(v));
};

/** bytea parameters: Uint8Array and Buffer go as binary; a string is taken as bytea text. */
export const encodeBytea: Encoder = encodeValue;

/**
 * Array parameters: each element through `element`, nested arrays kept; node-postgres writes
 * the array literal with correct quoting and NULL elements.
 */
export function encodeArray(element: Encoder): Encoder {
  const encodeItems = (items: readonly unknown[]): unknown[] =>
    items.map((v) =>
      Array.isArray(v) ? encodeItems(v) : v === null || v === undefined ? null : element(v),
    );
  return (value) => {
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value)) return element(value);
    return encodeItems(value);
  };
}
