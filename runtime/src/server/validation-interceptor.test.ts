import { expect, test } from "vitest";
import { cachedRegexMatch } from "./validation-interceptor.js";

test("CEL patterns: compiled once, RE2-only syntax refused every time, leading flags applied", () => {
  const match = cachedRegexMatch();
  const uuid = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
  expect(match(uuid, "3f2504e0-4f89-11d3-9a0c-0305e82c3301")).toBe(true);
  expect(match(uuid, "not-a-uuid")).toBe(false);
  expect(match("(?i)^abc$", "ABC")).toBe(true);
  expect(match("^abc$", "ABC")).toBe(false);
  for (let i = 0; i < 2; i++) {
    expect(() => match("a(?=b)", "ab")).toThrow(/invalid RE2 syntax/);
  }
});
