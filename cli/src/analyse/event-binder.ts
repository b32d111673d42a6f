/**
 * Checks the event declarations of the project's protos: `emits` in `(svcgen.v1.method)` (a
 * producing RPC: topic, payload message, ordering key, payload fields) and `consumes` in
 * `(svcgen.v1.service)` (a consumer group's topics and handler methods), and turns them into
 * the Model's {@link EmittedEvent}s and {@link ConsumerModel}s. Every problem is a diagnostic
 * at the declaring option: an unknown message, a key or payload field that does not exist or
 * does not fit, a topic emitted with two payload types, a consumer whose payload type differs
 * from the producer's (errors); a consumed topic no RPC of the project emits (a warning: it
 * may come from another project).
 */
import {
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  getOption,
  hasOption,
  ScalarType,
} from "@bufbuild/protobuf";
import type { Diagnostic } from "../diagnostics.js";
import type {
  ConsumedEvent,
  ConsumerModel,
  EmittedEvent,
  EventFieldSource,
  EventPayload,
  FieldRef,
  MessageRef,
} from "../model.js";
import { pascalCase } from "../names.js";
import {
  type EmitRule,
  method as methodOption,
  service as serviceOption,
} from "../proto/gen/svcgen/v1/options_pb.js";
import { ProtoCodes } from "../proto/proto-codes.js";
import { type Locator, methodLocation, type SourceLocation } from "../proto/source-locations.js";

/** What the event binder needs besides the services. */
export interface EventBindInput {
  readonly services: readonly DescService[];
  /** A message of the build by full name. */
  readonly message: (typeName: string) => DescMessage | undefined;
  readonly locate: Locator;
  /** The Model's reference to a message (module, schema name). */
  readonly messageRef: (m: DescMessage) => MessageRef;
  /** The Model's reference to a field. */
  readonly fieldRef: (f: DescField) => FieldRef;
}

/** The events of the project: per RPC (by `Service.Method` full name) and per service. */
export interface EventBindings {
  readonly emits: ReadonlyMap<string, readonly EmittedEvent[]>;
  readonly consumers: ReadonlyMap<string, ConsumerModel>;
  readonly diagnostics: Diagnostic[];
}

const topicPattern = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Key fields: strings and integers (their decimal text is the key). */
const keyScalars = new Set([
  ScalarType.STRING,
  ScalarType.INT32,
  ScalarType.INT64,
  ScalarType.UINT32,
  ScalarType.UINT64,
  ScalarType.SINT32,
  ScalarType.SINT64,
  ScalarType.FIXED32,
  ScalarType.FIXED64,
  ScalarType.SFIXED32,
  ScalarType.SFIXED64,
]);

/** snake_case and camelCase compare equal. */
function norm(name: string): string {
  return name.replace(/_/g, "").toLowerCase();
}

/** A field's type as users write it, and as compared between a source and a payload field. */
function fieldType(f: DescField): string {
  switch (f.fieldKind) {
    case "scalar":
      return `${f.proto.proto3Optional ? "optional " : ""}${ScalarType[f.scalar].toLowerCase()}`;
    case "enum":
      return `${f.proto.proto3Optional ? "optional " : ""}${f.enum.typeName}`;
    case "message":
      return f.message.typeName;
    case "list":
      return `repeated ${f.listKind === "scalar" ? ScalarType[f.scalar].toLowerCase() : f.listKind === "enum" ? f.enum.typeName : f.message.typeName}`;
    case "map":
      return `map<${ScalarType[f.mapKey].toLowerCase()}, ${f.mapKind === "scalar" ? ScalarType[f.scalar].toLowerCase() : f.mapKind === "enum" ? f.enum.typeName : f.message.typeName}>`;
  }
}

/** The type without `optional`: a source fits a payload field when these are equal. */
function baseFieldType(f: DescField): string {
  return fieldType(f).replace(/^optional /, "");
}

/** The location of a service's svcgen option, else of the service. */
function serviceLocation(locate: Locator, s: DescService): SourceLocation | Record<string, never> {
  return locate(s.file.proto.name, [6, s.file.services.indexOf(s), 3, 51871]) ?? {};
}

/**
 * Resolves `request.x`, `response.x` or a bare `x` (response first, then request) to a field
 * of the RPC; undefined with a reason when there is none.
 */
function resolveSource(
  method: DescMethod,
  spec: string,
): { source: { from: "request" | "response"; field: DescField } } | { error: string } {
  const dot = spec.indexOf(".");
  const prefix = dot < 0 ? undefined : spec.slice(0, dot);
  const name = dot < 0 ? spec : spec.slice(dot + 1);
  if (prefix !== undefined && prefix !== "request" && prefix !== "response") {
    return { error: `${spec} must be a field name, request.<field> or response.<field>` };
  }
  const find = (m: DescMessage): DescField | undefined =>
    m.fields.find((f) => f.name === name) ?? m.fields.find((f) => norm(f.name) === norm(name));
  if (prefix !== "request") {
    const f = find(method.output);
    if (f !== undefined) return { source: { from: "response", field: f } };
  }
  if (prefix !== "response") {
    const f = find(method.input);
    if (f !== undefined) return { source: { from: "request", field: f } };
  }
  const where =
    prefix === "request"
      ? method.input.typeName
      : prefix === "response"
        ? method.output.typeName
        : `${method.output.typeName} or ${method.input.typeName}`;
  return { error: `there is no field ${name} in ${where}` };
}

/** Checks the events of every service; see the module comment. */
export function bindEvents(input: EventBindInput): EventBindings {
  const diagnostics: Diagnostic[] = [];
  const emits = new Map<string, EmittedEvent[]>();
  const consumers = new Map<string, ConsumerModel>();
  // The first producer of each topic, for consumers and for one payload type per topic.
  const producers = new Map<string, { message: DescMessage; method: DescMethod }>();
  // Every topic an RPC declares, valid or not: a consumer of a topic whose producer is in
  // error gets no second diagnostic.
  const declared = new Set<string>();

  for (const service of input.services) {
    for (const method of service.methods) {
      if (!hasOption(method, methodOption)) continue;
      const rule = getOption(method, methodOption);
      if (rule.emits.length === 0) continue;
      const at = methodLocation(input.locate, method);
      const error = (message: string, hint?: string): void => {
        diagnostics.push({
          severity: "error",
          code: ProtoCodes.badEvent,
          message: `${service.name}.${method.name}: ${message}`,
          ...at,
          ...(hint === undefined ? {} : { hint }),
        });
      };
      // svcgen writes the events of bound RPCs, in the query's transaction: unary ones only.
      // A hand-written RPC of any kind calls emit<Event> itself.
      if (method.methodKind !== "unary" && rule.query !== "") {
        error(
          `only a unary RPC bound to a query can emit events; this one is ${method.methodKind.replace("_", "-")}`,
          "Remove the query option and call the generated emit<Event> helper in handlers.ts",
        );
        continue;
      }
      const list: EmittedEvent[] = [];
      const topics = new Set<string>();
      for (const e of rule.emits) {
        declared.add(e.topic);
        const event = bindEmit(method, e, rule.query !== "", input, error);
        if (event === undefined) continue;
        if (topics.has(event.event.topic)) {
          error(`emits ${event.event.topic} twice`);
          continue;
        }
        topics.add(event.event.topic);
        const first = producers.get(event.event.topic);
        if (first !== undefined && first.message.typeName !== event.desc.typeName) {
          error(
            `topic ${event.event.topic} carries ${event.desc.typeName} here but ${first.message.typeName} in ${first.method.parent.name}.${first.method.name}`,
            "A topic has one payload type: use the same message, or another topic",
          );
          continue;
        }
        if (first === undefined) producers.set(event.event.topic, { message: event.desc, method });
        list.push(event.event);
      }
      if (list.length > 0) emits.set(method.parent.typeName + "." + method.name, list);
    }
  }

  for (const service of input.services) {
    if (!hasOption(service, serviceOption)) continue;
    const rule = getOption(service, serviceOption);
    if (rule.consumes.length === 0) {
      if (rule.consumerGroup !== "") {
        diagnostics.push({
          severity: "warning",
          code: ProtoCodes.badEvent,
          message: `${service.name}: consumer_group is set but the service consumes no topic`,
          ...serviceLocation(input.locate, service),
        });
      }
      continue;
    }
    const at = serviceLocation(input.locate, service);
    const report = (severity: "error" | "warning", code: string, message: string, hint?: string) =>
      diagnostics.push({
        severity,
        code: code as Diagnostic["code"],
        message: `${service.name}: ${message}`,
        ...at,
        ...(hint === undefined ? {} : { hint }),
      });
    const events: ConsumedEvent[] = [];
    const handlers = new Set(service.methods.map((m) => m.localName));
    for (const c of rule.consumes) {
      if (!topicPattern.test(c.topic)) {
        report(
          "error",
          ProtoCodes.badEvent,
          `consumes topic "${c.topic}", which is not dot-separated words of letters, digits, _ and -`,
        );
        continue;
      }
      if (events.some((e) => e.topic === c.topic)) {
        report("error", ProtoCodes.badEvent, `consumes ${c.topic} twice`);
        continue;
      }
      const producer = producers.get(c.topic);
      if (producer === undefined && declared.has(c.topic)) continue;
      let message: DescMessage | undefined;
      if (c.message !== "") {
        message = input.message(c.message);
        if (message === undefined) {
          report(
            "error",
            ProtoCodes.badEvent,
            `consumes ${c.topic} as message ${c.message}, which does not exist`,
            "Give the full name of a message of the build (package.Message)",
          );
          continue;
        }
      }
      if (producer === undefined) {
        report(
          "warning",
          ProtoCodes.unproducedTopic,
          `consumes ${c.topic}, but no RPC of this project emits it`,
          message === undefined
            ? "Add emits to the producing RPC, or set message when another project produces it"
            : "Fine when another project produces it; otherwise add emits to the producing RPC",
        );
        if (message === undefined) {
          report(
            "error",
            ProtoCodes.badEvent,
            `consumes ${c.topic} without a message type, and no producer says which`,
            `Set message: "package.Message" in the consumes entry of ${c.topic}`,
          );
          continue;
        }
      } else if (message !== undefined && message.typeName !== producer.message.typeName) {
        report(
          "error",
          ProtoCodes.badEvent,
          `consumes ${c.topic} as ${message.typeName}, but ${producer.method.parent.name}.${producer.method.name} emits it as ${producer.message.typeName}`,
          "Consume the producer's message type (or leave message empty to take it)",
        );
        continue;
      }
      const payload = message ?? producer?.message;
      if (payload === undefined) continue;
      const name = pascalCase(c.topic);
      const handler = c.handler === "" ? `on${name}` : c.handler;
      if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(handler)) {
        report("error", ProtoCodes.badEvent, `handler ${handler} is not a TypeScript identifier`);
        continue;
      }
      if (handlers.has(handler)) {
        report(
          "error",
          ProtoCodes.badEvent,
          `handler ${handler} of ${c.topic} has the name of another method of the handler class`,
          "Set another handler name",
        );
        continue;
      }
      handlers.add(handler);
      events.push({ topic: c.topic, name, message: input.messageRef(payload), handler });
    }
    if (events.length > 0) {
      consumers.set(service.typeName, {
        group: rule.consumerGroup === "" ? service.typeName : rule.consumerGroup,
        events,
      });
    }
  }
  return { emits, consumers, diagnostics };
}

/** One `emits` entry of a unary RPC, checked; undefined after reporting its problems. */
function bindEmit(
  method: DescMethod,
  e: EmitRule,
  bound: boolean,
  input: EventBindInput,
  error: (message: string, hint?: string) => void,
): { event: EmittedEvent; desc: DescMessage } | undefined {
  if (!topicPattern.test(e.topic)) {
    error(
      e.topic === ""
        ? "an emits entry has no topic"
        : `topic "${e.topic}" is not dot-separated words of letters, digits, _ and -`,
      "Name the topic like user.signed_up",
    );
    return undefined;
  }
  const desc = e.message === "" ? method.output : input.message(e.message);
  if (desc === undefined) {
    error(
      `event ${e.topic}: message ${e.message} does not exist`,
      "Give the full name of a message of the build (package.Message)",
    );
    return undefined;
  }
  let failed = false;
  const fail = (message: string, hint?: string): void => {
    failed = true;
    error(`event ${e.topic}: ${message}`, hint);
  };
  let key: EventFieldSource | undefined;
  let handKey: string | undefined;
  if (e.key !== "" && !bound) {
    // A hand-written RPC passes the key itself; the declaration names what it is.
    handKey = e.key;
  } else if (e.key !== "") {
    const r = resolveSource(method, e.key);
    if ("error" in r)
      fail(`key ${r.error}`, "Name a string or integer field of the request or response");
    else if (r.source.field.fieldKind !== "scalar" || !keyScalars.has(r.source.field.scalar)) {
      fail(
        `key ${r.source.from}.${r.source.field.name} is ${fieldType(r.source.field)}; a key must be a string or integer field`,
      );
    } else key = { from: r.source.from, field: input.fieldRef(r.source.field) };
  }
  let payload: EventPayload;
  const mapped = new Map(e.fields.map((f) => [f.field, f.from]));
  if (desc.typeName === method.output.typeName && e.fields.length === 0) {
    payload = { kind: "response" };
  } else if (desc.typeName === method.input.typeName && e.fields.length === 0) {
    payload = { kind: "request" };
  } else if (!bound) {
    // A hand-written RPC fills the payload itself (emit<Event>(tx, payload)): nothing to map.
    if (e.fields.length > 0) {
      fail(
        "fields map payload fields for a bound RPC; this RPC has no query, so its handler fills the payload",
        "Remove fields, or bind the RPC to a query",
      );
    }
    payload = { kind: "fields", fields: [] };
  } else {
    for (const name of mapped.keys()) {
      if (!desc.fields.some((f) => f.name === name)) {
        fail(`fields names ${name}, which is not a field of ${desc.typeName}`);
      }
    }
    const fields: { field: FieldRef; source: EventFieldSource }[] = [];
    for (const target of desc.fields) {
      const spec = mapped.get(target.name);
      let from: "request" | "response";
      let source: DescField | undefined;
      if (spec !== undefined) {
        const r = resolveSource(method, spec.includes(".") ? spec : `response.${spec}`);
        if ("error" in r) {
          fail(`payload field ${target.name}: ${r.error}`);
          continue;
        }
        from = r.source.from;
        source = r.source.field;
      } else {
        const r = resolveSource(method, target.name);
        if ("error" in r) {
          fail(
            `payload field ${desc.name}.${target.name} has no field of the same name in ${method.output.typeName} or ${method.input.typeName}`,
            `Map it with fields: [{ field: "${target.name}", from: "request.<field>" }]`,
          );
          continue;
        }
        from = r.source.from;
        source = r.source.field;
      }
      if (baseFieldType(source) !== baseFieldType(target)) {
        fail(
          `payload field ${desc.name}.${target.name} (${fieldType(target)}) does not fit ${from}.${source.name} (${fieldType(source)})`,
          "Payload fields take values of the same type",
        );
        continue;
      }
      fields.push({
        field: input.fieldRef(target),
        source: { from, field: input.fieldRef(source) },
      });
    }
    payload = { kind: "fields", fields };
  }
  if (failed) return undefined;
  const name = pascalCase(e.topic);
  return {
    event: {
      topic: e.topic,
      name,
      message: input.messageRef(desc),
      ...(key === undefined ? {} : { key }),
      ...(handKey === undefined ? {} : { handKey }),
      payload,
    },
    desc,
  };
}
