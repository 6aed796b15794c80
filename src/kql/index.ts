/**
 * Kibana Query Language (KQL) for detection rules: parse once, compile once, evaluate per event.
 *
 * ```ts
 * const isSshFailure = compileKql('event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user)');
 * if (isSshFailure(event)) ...
 * ```
 * Syntax, semantics and where they differ from Elasticsearch: README.md in this folder.
 */
export type { KqlField, KqlNode, KqlNodeType, KqlValue, RangeOp } from "./ast.ts";
export { FREE_TEXT_FIELD, referencedFields } from "./ast.ts";
export { fieldAccessor, NESTED_ONLY, resolvePath } from "./accessor.ts";
export type { Accessor } from "./accessor.ts";
export { compileAst, compileKql } from "./compile.ts";
export type { KqlPredicate } from "./compile.ts";
export type { KqlCompileOptions } from "./kinds.ts";
export { toElasticsearchQuery } from "./es.ts";
export type { EsQuery, EsQueryOptions } from "./es.ts";
export { KqlSyntaxError } from "./errors.ts";
export { MAX_QUERY_LENGTH } from "./lexer.ts";
export { MAX_DEPTH, parseKql } from "./parser.ts";
export { toKql } from "./print.ts";
export { equalityKey, requiredEquals } from "./required.ts";
export type { RequiredEquals } from "./required.ts";
