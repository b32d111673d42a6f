/**
 * @svcgen/runtime/events: a transactional outbox (`writeEvent`), the relay that delivers it at
 * least once (`startRelay`), idempotent consumer groups (`startConsumer`) and their two
 * transports, PostgreSQL LISTEN/NOTIFY (default) and NATS JetStream.
 */
export {
  type Consumer,
  type ConsumerOptions,
  type ConsumerOutcome,
  type EventHandler,
  type ProcessOutcome,
  processEvent,
  startConsumer,
} from "./event-consumer.js";
export { type PruneOptions, type PruneResult, pruneEvents } from "./event-retention.js";
export {
  type EventContext,
  type EventLogger,
  type EventTransport,
  type StoredEvent,
  type SubscribeOptions,
  silentLogger,
  type TransportSubscription,
} from "./event-types.js";
export { ensureEventsSchema } from "./events-migration.js";
export {
  eventCursorTable,
  eventLogChannel,
  eventLogTable,
  eventsMigrationSql,
  outboxChannel,
  outboxTable,
  processedEventsTable,
} from "./events-schema.js";
export { createNatsTransport, type NatsTransportOptions } from "./nats-transport.js";
export { type Relay, type RelayOptions, startRelay } from "./outbox-relay.js";
export { InvalidEventError, type NewEvent, writeEvent } from "./outbox-writer.js";
export { createPostgresTransport, type PostgresTransportOptions } from "./postgres-transport.js";
export { traceHeaders, withEventSpan } from "./trace-context.js";
