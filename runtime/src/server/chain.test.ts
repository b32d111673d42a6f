import { describe, expect, test } from "vitest";
import { assembleChain, chainOrder, runChain } from "./chain.js";
import type { ServerCall, ServerInterceptor } from "./interceptor.js";

const call = {} as ServerCall;

function tracer(name: string, log: string[]): ServerInterceptor {
  return async (_call, next) => {
    log.push(`>${name}`);
    try {
      await next();
    } finally {
      log.push(`<${name}`);
    }
  };
}

describe("chain", () => {
  test("runs the positions in the documented order, outermost first, whatever order they are given in", async () => {
    const log: string[] = [];
    const slots = Object.fromEntries([...chainOrder].reverse().map((p) => [p, tracer(p, log)]));
    await runChain(assembleChain(slots), call, async () => {
      log.push("handler");
    });
    expect(log).toEqual([
      ...chainOrder.map((p) => `>${p}`),
      "handler",
      ...[...chainOrder].reverse().map((p) => `<${p}`),
    ]);
  });

  test("a position set to false or left out is not in the chain; a slot may hold several, in order", async () => {
    const log: string[] = [];
    const chain = assembleChain({
      telemetry: [tracer("span", log), tracer("request-id", log)],
      recover: false,
      retry: tracer("retry", log),
    });
    expect(chain).toHaveLength(3);
    await runChain(chain, call, async () => {
      log.push("handler");
    });
    expect(log).toEqual([
      ">span",
      ">request-id",
      ">retry",
      "handler",
      "<retry",
      "<request-id",
      "<span",
    ]);
  });

  test("an interceptor may end the call without calling next, or call next again (a retry)", async () => {
    let runs = 0;
    const reject: ServerInterceptor = async () => {
      throw new Error("rejected");
    };
    await expect(runChain([reject], call, async () => void runs++)).rejects.toThrow("rejected");
    expect(runs).toBe(0);
    const twice: ServerInterceptor = async (_c, next) => {
      await next().catch(() => undefined);
      await next();
    };
    await runChain([twice], call, async () => {
      runs++;
      if (runs === 1) throw new Error("first attempt fails");
    });
    expect(runs).toBe(2);
  });
});
