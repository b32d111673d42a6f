export * from "./diagnostics.js";
export * from "./model.js";
