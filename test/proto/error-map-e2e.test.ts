/**
 * The generated error map and server entry end to end: a project with one constraint of each
 * kind (primary key, unique, foreign key, check, NOT NULL, exclusion) and RPCs bound to
 * queries on those tables is generated with `svcgen generate`, its `gen/server/<service>.ts`
 * `start()` serves it against a real PostgreSQL, and a real violation of each constraint
 * reaches the generated client with the generated code, `ErrorInfo` reason and domain, and a
 * `BadRequest` violation on the proto field (or the column's camelCase name when no bound RPC
 * feeds that column).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { type ServiceError, status } from "@grpc/grpc-js";
import { BadRequestSchema, ErrorInfoSchema, StatusSchema } from "@svcgen/runtime/grpc";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ErrorMapProject, serveErrorMapProject } from "./error-map-project.js";

const migration = `
CREATE TABLE rooms (
  id int PRIMARY KEY,
  name text NOT NULL UNIQUE,
  capacity int NOT NULL CHECK (capacity > 0)
);
CREATE TABLE bookings (
  id serial PRIMARY KEY,
  room_id int NOT NULL REFERENCES rooms (id),
  slots int4range NOT NULL,
  EXCLUDE USING gist (slots WITH &&)
);
`;

const queries = `-- name: CreateRoom :one
INSERT INTO rooms (id, name, capacity) VALUES (@id, sqlc.narg(name), @capacity)
RETURNING id, name, capacity;

-- name: CreateBooking :one
INSERT INTO bookings (room_id, slots) VALUES (@room_id, int4range(@first_slot::int, @last_slot::int))
RETURNING id;
`;

const proto = `syntax = "proto3";
package rooms.v1;
import "svcgen/v1/options.proto";

service RoomService {
  option (svcgen.v1.service) = { auth: { public: true } };
  rpc CreateRoom(CreateRoomRequest) returns (Room) {
    option (svcgen.v1.method) = {
      query: "CreateRoom"
      params: [{ param: "name", field: "room_name" }]
      columns: [{ field: "room_name", column: "name" }]
    };
  }
  rpc CreateBooking(CreateBookingRequest) returns (Booking) {
    option (svcgen.v1.method) = { query: "CreateBooking" };
  }
}
message CreateRoomRequest { int32 id = 1; optional string room_name = 2; int32 capacity = 3; }
message Room { int32 id = 1; string room_name = 2; int32 capacity = 3; }
message CreateBookingRequest { int32 room_id = 1; int32 first_slot = 2; int32 last_slot = 3; }
message Booking { int32 id = 1; }
`;

interface RoomClient {
  createRoom(r: { id: number; roomName?: string; capacity: number }): Promise<unknown>;
  createBooking(r: { roomId: number; firstSlot: number; lastSlot: number }): Promise<unknown>;
  close(): void;
}

let project: ErrorMapProject<RoomClient>;
let client: RoomClient;
let errorsTs: string;

beforeAll(async () => {
  project = await serveErrorMapProject<RoomClient>("error-map", "rooms", "room-service", {
    migration,
    queries,
    proto,
    errorsDomain: "rooms.example",
  });
  ({ client, errorsTs } = project);
  await client.createRoom({ id: 1, roomName: "Blue", capacity: 4 });
  await client.createBooking({ roomId: 1, firstSlot: 1, lastSlot: 5 });
}, 120_000);

afterAll(async () => {
  await project?.close();
});

/** The status, reason, domain and field violations of a failed call. */
async function failure(call: Promise<unknown>) {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(err, "the call should fail").toBeDefined();
  const raw = err?.metadata?.get("grpc-status-details-bin")[0];
  const details = raw instanceof Buffer ? fromBinary(StatusSchema, raw).details : [];
  const info = details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((x) => x !== undefined);
  const fields = details.flatMap(
    (d) => anyUnpack(d, BadRequestSchema)?.fieldViolations.map((v) => v.field) ?? [],
  );
  return {
    code: err?.code,
    message: err?.details,
    reason: info?.reason,
    domain: info?.domain,
    fields,
  };
}

describe("the generated error map through the generated server", () => {
  test("gen/errors.ts lists every constraint of the schema with its kind", () => {
    for (const key of [
      "rooms_pkey",
      "rooms_name_key",
      "rooms_capacity_check",
      '"rooms.name"',
      "bookings_room_id_fkey",
      "bookings_slots_excl",
    ]) {
      expect(errorsTs).toContain(`    ${key}: {`);
    }
    expect(errorsTs).toContain('domain: "rooms.example"');
  });

  test("primary key: ALREADY_EXISTS on the proto field", async () => {
    expect(await failure(client.createRoom({ id: 1, roomName: "Red", capacity: 2 }))).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A room with this id already exists",
      reason: "ROOMS_PKEY",
      domain: "rooms.example",
      fields: ["id"],
    });
  });

  test("unique: ALREADY_EXISTS named by the mapped proto field, not the column", async () => {
    expect(await failure(client.createRoom({ id: 2, roomName: "Blue", capacity: 2 }))).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A room with this room_name already exists",
      reason: "ROOMS_NAME_KEY",
      domain: "rooms.example",
      fields: ["room_name"],
    });
  });

  test("check: INVALID_ARGUMENT", async () => {
    expect(await failure(client.createRoom({ id: 3, roomName: "Green", capacity: 0 }))).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "The capacity of the room is not valid",
      reason: "ROOMS_CAPACITY_CHECK",
      domain: "rooms.example",
      fields: ["capacity"],
    });
  });

  test("not null: INVALID_ARGUMENT keyed by table.column", async () => {
    expect(await failure(client.createRoom({ id: 4, capacity: 3 }))).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "A value for room_name is required",
      reason: "ROOMS_NAME_NOT_NULL",
      domain: "rooms.example",
      fields: ["room_name"],
    });
  });

  test("foreign key: FAILED_PRECONDITION", async () => {
    expect(
      await failure(client.createBooking({ roomId: 99, firstSlot: 100, lastSlot: 101 })),
    ).toEqual({
      code: status.FAILED_PRECONDITION,
      message: "The room does not exist, or a booking still refers to it",
      reason: "BOOKINGS_ROOM_ID_FKEY",
      domain: "rooms.example",
      fields: ["room_id"],
    });
  });

  test("exclusion: ALREADY_EXISTS on the column's camelCase name (no field feeds it directly)", async () => {
    expect(await failure(client.createBooking({ roomId: 1, firstSlot: 3, lastSlot: 9 }))).toEqual({
      code: status.ALREADY_EXISTS,
      message: "A conflicting booking already exists",
      reason: "BOOKINGS_SLOTS_EXCL",
      domain: "rooms.example",
      fields: ["slots"],
    });
  });
});
