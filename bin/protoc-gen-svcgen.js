#!/usr/bin/env node
// Entry shim of protoc-gen-svcgen (npm run build first): read buf's CodeGeneratorRequest from
// stdin, run the compiled plugin, write the CodeGeneratorResponse to stdout; warnings go to
// stderr. `--write-includes <dir>` writes svcgen/v1/options.proto and buf/validate/validate.proto.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, CodeGeneratorResponseSchema } from "@bufbuild/protobuf/wkt";
import {
  pluginName,
  runSvcgenPlugin,
  writeProtoIncludes,
} from "../cli/dist/plugin/svcgen-plugin.js";
import { version as svcgenVersion } from "../cli/dist/version.js";

const args = process.argv.slice(2);
if (args[0] === "--version" || args[0] === "-v") {
  process.stdout.write(`${pluginName} v${svcgenVersion}\n`);
} else if (args[0] === "--write-includes" && args.length === 2) {
  for (const f of await writeProtoIncludes(args[1]))
    process.stdout.write(`wrote ${args[1]}/${f}\n`);
} else if (args.length > 0) {
  process.stderr.write(
    `${pluginName} reads a CodeGeneratorRequest on stdin (run it from buf generate), or: ${pluginName} --write-includes <dir> | --version\n`,
  );
  process.exitCode = 2;
} else {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = fromBinary(CodeGeneratorRequestSchema, new Uint8Array(Buffer.concat(chunks)));
  const result = await runSvcgenPlugin(request, {
    cwd: process.cwd(),
    env: process.env,
  });
  for (const w of result.warnings) process.stderr.write(`${w}\n`);
  const bytes = toBinary(CodeGeneratorResponseSchema, result.response);
  await new Promise((resolve, reject) =>
    process.stdout.write(bytes, (e) => (e ? reject(e) : resolve(undefined))),
  );
}
