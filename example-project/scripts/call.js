// `npm run example:call -- <service> <method> [json] [--uid <uid>] [--roles a,b] [--anonymous]`
//
// Calls one RPC of the running example (`npm run example` in another terminal) as a user with
// a development token, and prints the response as proto JSON: one JSON document for a unary
// call, one line per message for a server stream. A failed call prints its status, message and
// details (field violations, ErrorInfo) and exits 1.
//
//   <service>   auth, user, data, file, notifications (or AuthService, example.auth.v1.AuthService)
//   <method>    GetMyProfile or getMyProfile
//   [json]      the request in proto JSON (default {}); for a client-streaming method, an array
//               of requests
//   --uid       the token's subject (default: alice, the account the tour signed in)
//   --roles     the token's roles, comma separated (e.g. admin, service)
//   --anonymous no token at all
//   --addr      call this host:port instead of the address in the state file
//   --timeout   deadline in ms (default 10000; none for a server stream)
//
// Addresses and the token endpoint come from the state file the running example writes
// (example-project/.run/state.json, or SVCGEN_EXAMPLE_STATE).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { createServiceClient } from "@svcgen/runtime/grpc";
import { fetchDevToken } from "./lib/dev-tokens.js";
import { distDir, readState, statePath } from "./lib/paths.js";
import { detailLines, statusName } from "./lib/status.js";

function fail(message) {
  process.stderr.write(`example:call: ${message}\n`);
  process.exit(1);
}

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        uid: { type: "string" },
        roles: { type: "string", default: "" },
        anonymous: { type: "boolean", default: false },
        addr: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    return fail(
      `${e.message}\nUsage: npm run example:call -- <service> <method> [json] [--uid <uid>] [--roles a,b]`,
    );
  }
})();
const [serviceArg, methodArg, jsonArg = "{}", ...extra] = positionals;
if (flags.help || serviceArg === undefined || methodArg === undefined || extra.length > 0) {
  fail(
    "usage: npm run example:call -- <service> <method> [json] [--uid <uid>] [--roles a,b] [--anonymous] [--addr host:port] [--timeout ms]",
  );
}

// --- Which service and method: every service the compiled protos define ----------------------
const services = await loadServices();
// A service goes by its proto package (notifications), its name (NotificationService,
// Notification), its full name or its file stem (notification-service); the first is shown.
const service = pick(
  services,
  (s) => [
    s.typeName.split(".").at(-3) ?? s.name,
    s.typeName,
    s.name,
    s.name.replace(/Service$/, ""),
    stemOf(s),
  ],
  serviceArg,
  "service",
);
const method = pick(
  service.methods,
  (m) => [m.name, m.localName],
  methodArg,
  "method",
  ` of ${service.typeName}`,
);

// --- Where it runs, and as whom -----------------------------------------------------------------
const state = readState();
let address = flags.addr;
if (address === undefined) {
  if (state === undefined)
    fail(
      `no running example (no live ${statePath()}): start one with \`npm run example\`, or give --addr`,
    );
  address = state.services[stemOf(service)]?.grpc;
  if (address === undefined) fail(`the running example has no ${stemOf(service)}`);
}
const metadata = {};
if (!flags.anonymous) {
  if (state === undefined)
    fail(
      "no running example to get a development token from: pass --anonymous, or start `npm run example`",
    );
  const uid = flags.uid ?? state.users.alice;
  if (uid === undefined) fail("the tour has not signed anyone in yet: pass --uid");
  const roles = flags.roles
    .split(",")
    .map((r) => r.trim())
    .filter((r) => r !== "");
  metadata.authorization = `Bearer ${await fetchDevToken(state.tokenUrl, uid, roles)}`;
}

// --- The request, from proto JSON -------------------------------------------------------------
let json;
try {
  json = JSON.parse(jsonArg);
} catch (e) {
  fail(`the request is not JSON: ${e.message}`);
}
const clientStreams =
  method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
if (clientStreams && !Array.isArray(json))
  fail(`${method.name} takes a stream of requests: give a JSON array`);
let requests;
try {
  requests = (clientStreams ? json : [json]).map((r) => fromJson(method.input, r));
} catch (e) {
  fail(`the request is not a valid ${method.input.typeName}: ${e.message}`);
}

// --- The call -----------------------------------------------------------------------------------
const client = createServiceClient(service, address);
const call = client[method.localName];
// A deadline of 10 s by default; none for a server stream (a subscription runs until Ctrl-C).
const timeoutMs =
  flags.timeout !== undefined
    ? Number(flags.timeout)
    : method.methodKind === "server_streaming"
      ? undefined
      : 10_000;
if (timeoutMs !== undefined && !(timeoutMs > 0))
  fail(`--timeout ${flags.timeout} is not a number of milliseconds`);
const options = timeoutMs === undefined ? { metadata } : { metadata, timeoutMs };
const show = (m, pretty) => JSON.stringify(toJson(method.output, m), null, pretty ? 2 : undefined);
try {
  if (method.methodKind === "unary") {
    process.stdout.write(`${show(await call(requests[0], options), true)}\n`);
  } else if (method.methodKind === "client_streaming") {
    process.stdout.write(`${show(await call(iterate(requests), options), true)}\n`);
  } else {
    const stream =
      method.methodKind === "server_streaming"
        ? call(requests[0], options)
        : call(iterate(requests), options);
    for await (const m of stream) process.stdout.write(`${show(m, false)}\n`);
  }
  client.close();
} catch (e) {
  client.close();
  if (typeof e?.code !== "number") throw e;
  process.stderr.write(`${statusName(e.code)}: ${e.details}\n`);
  for (const line of detailLines(e)) {
    process.stderr.write(`  ${line}\n`);
  }
  process.exit(1);
}

// --- Helpers ------------------------------------------------------------------------------------

/** Every service of the compiled example (dist/gen/proto/**\/*_pb.js). */
async function loadServices() {
  const root = join(distDir, "gen/proto");
  let files;
  try {
    files = readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith("_pb.js"));
  } catch {
    fail(`${root} does not exist: run \`npm run example\` first (it compiles the example)`);
  }
  const found = [];
  for (const f of files.sort()) {
    const mod = await import(join(root, String(f)));
    for (const v of Object.values(mod)) if (v?.kind === "service") found.push(v);
  }
  return found;
}

/** The generated file stem of a service: UserService -> user-service. */
function stemOf(s) {
  return s.name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/**
 * The one item one of whose names is `wanted` (case-insensitive), or exit with a did-you-mean.
 * `namesOf(item)[0]` is the name shown.
 */
function pick(items, namesOf, wanted, what, where = "") {
  const w = wanted.toLowerCase();
  const hit = items.find((i) => namesOf(i).some((n) => n.toLowerCase() === w));
  if (hit !== undefined) return hit;
  const ranked = items
    .map((i) => ({ i, d: Math.min(...namesOf(i).map((n) => distance(n.toLowerCase(), w))) }))
    .sort((a, b) => a.d - b.d);
  const best = ranked[0];
  const hint =
    best !== undefined && best.d <= Math.max(2, Math.floor(w.length / 3))
      ? ` Did you mean "${namesOf(best.i)[0]}"?`
      : "";
  const all = items.map((i) => namesOf(i)[0]).join(", ");
  return fail(`unknown ${what} "${wanted}"${where}.${hint} Known: ${all}`);
}

/** Levenshtein distance. */
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

async function* iterate(items) {
  yield* items;
}
