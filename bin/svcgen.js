#!/usr/bin/env node
// Entry shim: run the compiled CLI (npm run build) with the process's arguments and streams.
import { main } from "../cli/dist/main.js";

const code = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
});
process.exitCode = code;
