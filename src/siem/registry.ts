/**
 * Every SIEM extractor, in one explicit map sorted by kind. Nothing registers itself on import;
 * `registry.test.ts` fails when a folder is missing from here. "Unknown kind" is an error of its own.
 * The `generic` body ({ip, reason?, duration?}) is the API's own kind (src/api/webhooks.ts), not repeated here.
 */
import { PortcullisError } from "../core/errors.ts";
import { elastalert } from "./elastalert/extractor.ts";
import { elasticSecurity } from "./elastic-security/extractor.ts";
import { graylog } from "./graylog/extractor.ts";
import { kibana } from "./kibana/extractor.ts";
import { ossim } from "./ossim/extractor.ts";
import { splunk } from "./splunk/extractor.ts";
import { splunkPull } from "./splunk-pull/index.ts";
import type { AlertSourceDefinition } from "./splunk-pull/types.ts";
import type { ExtractorDefinition } from "./types.ts";
import { wazuh } from "./wazuh/extractor.ts";

export const EXTRACTORS: Readonly<Record<string, ExtractorDefinition>> = Object.freeze({
  elastalert,
  "elastic-security": elasticSecurity,
  graylog,
  kibana,
  ossim,
  splunk,
  wazuh,
});

/**
 * SIEM pulls: alert sources that fetch a SIEM's verdicts on a schedule (`sources:` entries of these types),
 * in folders named `<type>-pull`. Their output is alerts for `Control.ingestAlert`, not log lines
 * (docs/adr/0009-splunk-pull.md).
 */
export const PULLS: Readonly<Record<string, AlertSourceDefinition<unknown>>> = Object.freeze({
  splunk: splunkPull,
});

export function extractorByKind(kind: string): ExtractorDefinition {
  const d = Object.hasOwn(EXTRACTORS, kind) ? EXTRACTORS[kind] : undefined;
  if (!d) {
    throw new PortcullisError(
      "UNKNOWN_PLUGIN",
      `unknown SIEM kind "${kind}" (known: ${Object.keys(EXTRACTORS).join(", ")})`,
    );
  }
  return d;
}
