/**
 * Offsets in SQL text. PostgreSQL's scanner and parser (libpg-query) report UTF-8 byte
 * offsets; the server reports 1-based character offsets; diagnostics and editors want
 * characters. These helpers convert between them once per text, in O(1) per lookup.
 */

/** Converts UTF-8 byte offsets of one text into UTF-16 character offsets. */
export class ByteOffsets {
  readonly #charAt: Int32Array | undefined;

  constructor(readonly text: string) {
    // Pure ASCII text (the common case) needs no table: bytes and characters coincide.
    if (Buffer.byteLength(text, "utf8") === text.length) {
      this.#charAt = undefined;
      return;
    }
    const bytes = Buffer.byteLength(text, "utf8");
    const table = new Int32Array(bytes + 1);
    let b = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.codePointAt(i) ?? 0;
      const len = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      for (let k = 0; k < len; k++) table[b + k] = i;
      b += len;
      if (code >= 0x10000) i++;
    }
    table[bytes] = text.length;
    this.#charAt = table;
  }

  /** The character offset at which the character containing `byteOffset` starts. */
  toChar(byteOffset: number): number {
    if (this.#charAt === undefined) return Math.min(byteOffset, this.text.length);
    const clamped = Math.max(0, Math.min(byteOffset, this.#charAt.length - 1));
    return this.#charAt[clamped] ?? this.text.length;
  }
}

/** A replaced range of an original text and where its replacement stands in the new text. */
interface Segment {
  readonly origStart: number;
  readonly origEnd: number;
  readonly newStart: number;
  readonly newEnd: number;
}

/**
 * Text rewritten by replacing ranges, remembering how to map an offset in the new text back
 * to the original. Used to turn `@name` and `sqlc.arg(name)` into `$n` while keeping
 * server error positions pointing at what the user wrote.
 */
export class RewrittenText {
  readonly text: string;
  readonly #segments: Segment[];
  readonly #origBase: number;

  /**
   * `source` is the original text; `base` is the offset of `source` within a larger file
   * (added to every mapped offset); `edits` are non-overlapping character ranges of `source`
   * with their replacements.
   */
  constructor(
    source: string,
    base: number,
    edits: readonly { start: number; end: number; replacement: string }[],
  ) {
    const sorted = [...edits].sort((a, b) => a.start - b.start);
    let out = "";
    let pos = 0;
    const segments: Segment[] = [];
    for (const e of sorted) {
      out += source.slice(pos, e.start);
      const newStart = out.length;
      out += e.replacement;
      segments.push({ origStart: e.start, origEnd: e.end, newStart, newEnd: out.length });
      pos = e.end;
    }
    out += source.slice(pos);
    this.text = out;
    this.#segments = segments;
    this.#origBase = base;
  }

  /**
   * Where the replacement of the edit that started at `start` (an offset in `source`) begins
   * in the rewritten text; undefined when no edit started there.
   */
  replacementAt(start: number): number | undefined {
    return this.#segments.find((s) => s.origStart === start)?.newStart;
  }

  /** Maps a 0-based character offset in the rewritten text to one in the original file. */
  toOriginal(offset: number): number {
    let delta = 0;
    for (const s of this.#segments) {
      if (offset < s.newStart) break;
      if (offset < s.newEnd) return this.#origBase + s.origStart;
      delta = s.origEnd - s.newEnd;
    }
    return this.#origBase + offset + delta;
  }
}
