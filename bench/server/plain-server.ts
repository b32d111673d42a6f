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
import { answerBench } from "./measured-window.js";

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
// CPU time and profiles of each measured window (see measured-window.ts).
answerBench();

process.on("SIGTERM", () => {
  server.forceShutdown();
  void pool.end().then(() => process.exit(0));
});
