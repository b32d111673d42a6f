/**
 * A service process for the shutdown test: the example UserService served by `runMain`,
 * configured from the environment like a generated `gen/server/<service>.ts` entry.
 */
import { runMain, startServer } from "@svcgen/runtime/server";
import { testAuthenticate, userErrorMap, userRegistration } from "./user-test-service.js";

void runMain(() =>
  startServer({
    services: [userRegistration()],
    errorMap: userErrorMap,
    authenticate: testAuthenticate,
    // The test counts every refused call as the drain's UNAVAILABLE; on a busy machine the
    // event-loop-delay shedder would also refuse some (RESOURCE_EXHAUSTED), which its own tests
    // cover.
    features: { shedding: false },
  }),
);
