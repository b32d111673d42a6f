/**
 * `@svcgen/runtime/auth`: bearer-token verification for generated services. Firebase ID
 * tokens by default, any JWKS issuer through the same {@link TokenVerifier} interface; the
 * verifier the environment configures comes from {@link verifierFromEnv}.
 */
export * from "./auth-interceptor.js";
export * from "./authenticate-hook.js";
export * from "./firebase-verifier.js";
export * from "./jwks-verifier.js";
export * from "./revocation-cache.js";
export * from "./token-introspection.js";
export * from "./token-verifier.js";
export * from "./verification-cache.js";
export * from "./verifier-from-env.js";
