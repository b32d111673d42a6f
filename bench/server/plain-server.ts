/**
 * Benchmark server B: the same GetProfile written by hand on grpc-js and pg (a named
 * prepared statement, pg's default type parsing, protobuf-es for the messages), with nothing
 * else: no auth, validation, deadlines, breaker, bulkhead or health.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import pg from "pg";
import {
  type GetProfileRequest,
  GetProfileRequestSchema,
  type Profile,
  ProfileSchema,
} from "../../example-project/gen/proto/example/user/v1/user_pb.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
pool.on("error", () => undefined);
const sql = `SELECT user_id, handle, display_name, bio, avatar_file_id, locale, timezone, created_at, updated_at
FROM profiles
WHERE user_id = $1`;

const server = new Server();
server.addService(
  {
    getProfile: {
      path: "/example.user.v1.UserService/GetProfile",
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: GetProfileRequest) => Buffer.from(toBinary(GetProfileRequestSchema, m)),
      requestDeserialize: (b: Buffer) => fromBinary(GetProfileRequestSchema, b),
      responseSerialize: (m: Profile) => Buffer.from(toBinary(ProfileSchema, m)),
      responseDeserialize: (b: Buffer) => fromBinary(ProfileSchema, b),
    },
  },
  {
    getProfile(
      call: ServerUnaryCall<GetProfileRequest, Profile>,
      callback: sendUnaryData<Profile>,
    ) {
      pool.query({ name: "get_profile", text: sql, values: [call.request.userId] }).then(
        (r) => {
          const row = r.rows[0];
          if (row === undefined) {
            callback({ code: status.NOT_FOUND, details: "not found" });
            return;
          }
          callback(
            null,
            create(ProfileSchema, {
              userId: row.user_id,
              handle: row.handle,
              displayName: row.display_name,
              bio: row.bio ?? undefined,
              avatarFileId: row.avatar_file_id ?? undefined,
              locale: row.locale,
              timezone: row.timezone ?? undefined,
              createdAt: timestampFromDate(row.created_at),
              updatedAt: timestampFromDate(row.updated_at),
            }),
          );
        },
        () => callback({ code: status.INTERNAL, details: "internal" }),
      );
    },
  },
);
server.bindAsync(
  `127.0.0.1:${process.env.PORT ?? "0"}`,
  ServerCredentials.createInsecure(),
  (err, port) => {
    if (err !== null) throw err;
    process.stdout.write(`${JSON.stringify({ msg: "listening", grpc: `127.0.0.1:${port}` })}\n`);
  },
);
// BENCH_PROFILE=<dir>: a CPU profile of each measured window, as the runtime server writes
// (BENCH_HEAP=1 or live: a heap profile instead, as there).
let session: import("node:inspector/promises").Session | undefined;
process.on("message", async (m) => {
  if (m === "cpu") process.send?.({ cpu: process.cpuUsage() });
  if (m === "prof-start") {
    const { Session } = await import("node:inspector/promises");
    session = new Session();
    session.connect();
    if (process.env.BENCH_HEAP) {
      await session.post("HeapProfiler.enable");
      await session.post(
        "HeapProfiler.startSampling",
        process.env.BENCH_HEAP === "live"
          ? { samplingInterval: 1024 }
          : {
              samplingInterval: 4096,
              includeObjectsCollectedByMajorGC: true,
              includeObjectsCollectedByMinorGC: true,
            },
      );
    } else {
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    process.send?.({ profiling: true });
  }
  if (m === "prof-stop" && session !== undefined) {
    const { profile } = process.env.BENCH_HEAP
      ? await session.post("HeapProfiler.stopSampling")
      : await session.post("Profiler.stop");
    const { writeFileSync } = await import("node:fs");
    const file = `${process.env.BENCH_PROFILE}/${process.env.BENCH_CONFIG}-${Date.now()}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    session = undefined;
    process.send?.({ profile: file });
  }
});
process.on("SIGTERM", () => {
  server.forceShutdown();
  void pool.end().then(() => process.exit(0));
});
