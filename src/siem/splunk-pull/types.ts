/**
 * Alert sources: sources whose output is alerts (addresses a SIEM search already judged), not log lines. They
 * feed the policy the way SIEM webhooks do (`Control.ingestAlert`), never the parsers or the rule engine.
 * See docs/adr/0009-splunk-pull.md for why this is a contract of its own beside `Source` (src/sources/types.ts).
 *
 * Contract for implementations (the same spirit as `Source`):
 * - `run` works until `signal` aborts, then returns; it does not throw for the remote side or the sink:
 *   search, network and auth errors and a failed `ingestAlert` are logged, retried with backoff and surface in
 *   `healthcheck`;
 * - back-pressure: each `ingestAlert` is awaited before the next one;
 * - positions (here: what was already reported) are committed to the `CheckpointStore` only after the alerts
 *   they cover were ingested, so a crash reports again rather than loses (at least once);
 * - `healthcheck` reports the last run's outcome and never calls the remote side (a search is not free: it
 *   takes one of the user's concurrent-search slots);
 * - `stats` returns monotonic counters (gauges documented as such) under the same base names as sources.
 */
import type { Alert } from "../../core/alert.ts";
import type { Actor } from "../../core/decision.ts";
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import type { BanOutcome } from "../../api/control.ts";
import type { CheckpointStore } from "../../sources/types.ts";

/** Where an alert source delivers: the daemon's `Control` (its `ingestAlert`) satisfies it as is. */
export interface AlertSink {
  ingestAlert(alert: Alert, actor: Actor): Promise<BanOutcome>;
}

/** What an alert source receives in `create`: the same object as a line source's `SourceContext`. */
export interface AlertSourceContext extends PluginContext {
  checkpoints: CheckpointStore;
}

export interface AlertSourceStats {
  /** Result rows read. */
  lines: number;
  /** Response bytes read. */
  bytes: number;
  /** Result rows not examined (over the configured maximum). */
  drops: number;
  /** Always 0 (kept for the common `portcullis_source_*` metric names). */
  rotations: number;
  /** Failed runs (network, TLS, HTTP, search, checkpoint errors). */
  errors: number;
  /** Source-specific counters, documented in the source's README. */
  [counter: string]: number;
}

export interface AlertSource {
  readonly name: string;
  readonly type: string;
  run(sink: AlertSink, signal: AbortSignal): Promise<void>;
  healthcheck(): Promise<Health>;
  stats(): AlertSourceStats;
}

/** An alert source plugin: a declarative definition, as line sources and responders are. */
export interface AlertSourceDefinition<Config> extends Omit<PluginDefinition<Config, AlertSource>, "create"> {
  create(config: Config, ctx: AlertSourceContext): AlertSource;
}
