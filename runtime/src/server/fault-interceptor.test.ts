import { status } from "@grpc/grpc-js";
import { describe, expect, test } from "vitest";
import { FaultSpecError, formatRule, parseFaultSpec, seededRandom } from "./fault-interceptor.js";

describe("parseFaultSpec", () => {
  test("the example spec: rules, faults, ratios and targets", () => {
    const rules = parseFaultSpec("GetProfile=latency:200ms,error:UNAVAILABLE@0.1;*=drop@0.01");
    expect(rules).toEqual([
      {
        target: "GetProfile",
        faults: [
          { kind: "latency", ms: 200, ratio: 1 },
          { kind: "error", code: status.UNAVAILABLE, ratio: 0.1 },
        ],
      },
      { target: "*", faults: [{ kind: "drop", ratio: 0.01 }] },
    ]);
    expect(rules.map(formatRule).join(";")).toBe(
      "GetProfile=latency:200ms,error:UNAVAILABLE@0.1;*=drop@0.01",
    );
  });

  test("blanks, seconds, percentages, status numbers and every target form", () => {
    const rules = parseFaultSpec(
      " UserService/GetProfile = latency:1.5s@50% ; /a.b.UserService/List=error:8 ; ",
    );
    expect(rules).toEqual([
      { target: "UserService/GetProfile", faults: [{ kind: "latency", ms: 1500, ratio: 0.5 }] },
      {
        target: "/a.b.UserService/List",
        faults: [{ kind: "error", code: status.RESOURCE_EXHAUSTED, ratio: 1 }],
      },
    ]);
    expect(parseFaultSpec("")).toEqual([]);
  });

  test.each([
    ["GetProfile", 'at 1: expected "<method>=<faults>", got "GetProfile"'],
    ["GetProfile=lag:5", 'at 12: unknown fault "lag" (expected latency, error or drop)'],
    ["GetProfile=latency:fast", 'at 20: latency needs a duration like 200ms or 1.5s, got "fast"'],
    [
      "A=error:NOPE",
      'at 9: error needs a gRPC status name or number 1-16 (UNAVAILABLE, 14), got "NOPE"',
    ],
    [
      "A=error:OK",
      'at 9: error needs a gRPC status name or number 1-16 (UNAVAILABLE, 14), got "OK"',
    ],
    ["A=drop@1.5", 'at 8: ratio must be a number from 0 to 1 or a percentage, got "1.5"'],
    ["A=drop:x", 'at 8: drop takes no argument, got "x"'],
    [
      "A=drop;B c=drop",
      'at 8: "B c" is not a method: use *, Method, Service/Method or /pkg.Service/Method',
    ],
    ["A=drop,", 'at 8: expected a fault ("latency:<ms>", "error:<status>" or "drop")'],
  ])("%s is refused with its position", (spec, message) => {
    let error: unknown;
    try {
      parseFaultSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FaultSpecError);
    expect((error as Error).message).toBe(`fault spec: ${message}`);
  });
});

test("seededRandom: the same seed gives the same uniform draws", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const draws = Array.from({ length: 10_000 }, () => a());
  expect(draws.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
  const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
  expect(mean).toBeGreaterThan(0.48);
  expect(mean).toBeLessThan(0.52);
  expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
});
