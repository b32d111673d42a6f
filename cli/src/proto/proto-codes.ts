/**
 * Diagnostic codes of the proto and binding stage (the SVC3xx range of `Codes` in
 * diagnostics.ts, kept here so this stage owns its list).
 */
export const ProtoCodes = {
  /** buf could not compile the proto files (syntax, unknown import or type, bad option). */
  compile: "SVC300",
  /** An RPC's `query` option names a query that does not exist. */
  unknownQuery: "SVC301",
  /** A request field or response field does not fit a query parameter or column. */
  typeMismatch: "SVC302",
  /** A query parameter has no request field, or a response field has no column. */
  missingField: "SVC303",
  /** A binding that cannot work: wrong method kind for the query command, bad mapping. */
  badBinding: "SVC304",
  /** An RPC that the user's handler class implements no longer exists in the proto. */
  removedRpc: "SVC305",
  /** A breaking change found by `buf breaking`. */
  breaking: "SVC306",
  /** The user's handler file could not be updated (no class found, not parseable). */
  handlerFile: "SVC307",
  /**
   * An event declaration that cannot work: a bad topic, an unknown message, a key or payload
   * field that does not exist or fit, a consumer whose payload type differs from the producer's.
   */
  badEvent: "SVC308",
  /** A service consumes a topic that no RPC of the project emits (a warning). */
  unproducedTopic: "SVC309",
} as const;
