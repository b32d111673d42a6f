/** Codec edge cases that a round trip through the server does not easily produce. */
import { describe, expect, test } from "vitest";
import {
  decodeArray,
  decodeBool,
  decodeBytea,
  decodeJson,
  decodeNumber,
  decodeText,
  decodeTimestamp,
  decodeTimestamptz,
  encodeArray,
  encodeDate,
  encodeJson,
  encodeJsonArray,
  encodeTimestamp,
  encodeTimestamptz,
  encodeValue,
} from "./codecs.js";

describe("decodeArray", () => {
  const texts = decodeArray(decodeText);
  const numbers = decodeArray(decodeNumber);

  test("empty, NULL elements, and quoted NULL", () => {
    expect(texts("{}")).toEqual([]);
    expect(texts('{NULL,"NULL",null,""}')).toEqual([null, "NULL", null, ""]);
  });

  test("quoting and backslash escapes", () => {
    expect(texts('{"a,b","c\\"d","e\\\\f","{x}"," sp "}')).toEqual([
      "a,b",
      'c"d',
      "e\\f",
      "{x}",
      " sp ",
    ]);
  });

  test("nested arrays and a non-default lower bound", () => {
    expect(numbers("{{1,2},{3,NULL}}")).toEqual([
      [1, 2],
      [3, null],
    ]);
    expect(numbers("[0:2]={7,8,9}")).toEqual([7, 8, 9]);
    expect(numbers("[1:2][1:1]={{1},{2}}")).toEqual([[1], [2]]);
  });

  test("element decoders apply to every non-null element", () => {
    expect(decodeArray(decodeBool)("{t,f,NULL}")).toEqual([true, false, null]);
    expect(decodeArray(decodeJson)('{"{\\"a\\": [1, 2]}",NULL,"\\"s\\""}')).toEqual([
      { a: [1, 2] },
      null,
      "s",
    ]);
  });

  test("malformed input is an error, not a silent guess", () => {
    expect(() => texts("1,2")).toThrow(SyntaxError);
    expect(() => texts('{"open')).toThrow(SyntaxError);
  });
});

describe("date and time", () => {
  test("offsets with minutes and seconds, fractions beyond milliseconds", () => {
    expect(decodeTimestamptz("2024-01-02 03:04:05.123456+05:30").toISOString()).toBe(
      "2024-01-01T21:34:05.123Z",
    );
    expect(decodeTimestamptz("1850-01-01 00:00:00+00:53:28").toISOString()).toBe(
      "1849-12-31T23:06:32.000Z",
    );
    expect(decodeTimestamptz("2024-01-02 03:04:05-08").toISOString()).toBe(
      "2024-01-02T11:04:05.000Z",
    );
    expect(decodeTimestamp("2024-01-02 03:04:05.5").toISOString()).toBe("2024-01-02T03:04:05.500Z");
  });

  test("BC years and years 0-99 are not shifted to the 1900s", () => {
    expect(decodeTimestamp("0044-03-15 12:00:00 BC").getUTCFullYear()).toBe(-43);
    expect(decodeTimestamp("0099-12-31 00:00:00").getUTCFullYear()).toBe(99);
  });

  test("infinity is an Invalid Date; other DateStyles are rejected", () => {
    expect(Number.isNaN(decodeTimestamptz("infinity").getTime())).toBe(true);
    expect(Number.isNaN(decodeTimestamptz("-infinity").getTime())).toBe(true);
    expect(() => decodeTimestamptz("Tue Jan 02 03:04:05 2024 PST")).toThrow(/DateStyle/);
  });

  test("encoders write what the decoders read", () => {
    const d = new Date("-000043-03-15T12:00:00.000Z");
    expect(encodeTimestamptz(d)).toBe("0044-03-15T12:00:00.000Z BC");
    expect(encodeTimestamp(new Date("2024-02-29T01:02:03.004Z"))).toBe("2024-02-29T01:02:03.004");
    expect(encodeDate(new Date(Date.UTC(2024, 1, 29, 23, 59)))).toBe("2024-02-29");
    expect(encodeDate("2024-02-29")).toBe("2024-02-29");
    expect(() => encodeTimestamptz(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe("other codecs", () => {
  test("bytea in hex and escape formats", () => {
    expect([...decodeBytea("\\x00ff10")]).toEqual([0, 255, 16]);
    expect([...decodeBytea("a\\000\\\\b\\377")]).toEqual([97, 0, 92, 98, 255]);
  });

  test("encodeValue: bigint, Uint8Array, null and undefined", () => {
    expect(encodeValue(12n)).toBe("12");
    expect(encodeValue(undefined)).toBeNull();
    const bytes = new Uint8Array([1, 2, 3]).subarray(1);
    const encoded = encodeValue(bytes);
    expect(Buffer.isBuffer(encoded)).toBe(true);
    expect([...(encoded as Buffer)]).toEqual([2, 3]);
  });

  test("json: arrays stay JSON, strings are JSON strings", () => {
    expect(encodeJson([1, 2])).toBe("[1,2]");
    expect(encodeJson("s")).toBe('"s"');
    expect(encodeJson(null)).toBeNull();
    expect(encodeJsonArray([[1], { a: 1 }, null])).toEqual(["[1]", '{"a":1}', null]);
  });

  test("encodeArray maps elements, keeps nesting and NULLs", () => {
    const enc = encodeArray(encodeDate);
    expect(enc([new Date(Date.UTC(2000, 0, 1)), null, [new Date(Date.UTC(2000, 0, 2))]])).toEqual([
      "2000-01-01",
      null,
      ["2000-01-02"],
    ]);
  });
});
