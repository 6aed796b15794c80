/**
 * The daemon's Prometheus metrics: `portcullis_<name>_<unit>` (counters end in `_total`), per-stage counters and
 * latency histograms. One registry per daemon (tests run several daemons in one process).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly lines = new Counter({
    name: "portcullis_lines_total",
    help: "Log lines read",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "portcullis_events_total",
    help: "Security events parsed",
    labelNames: ["dataset"],
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "portcullis_lines_rejected_total",
    help: "Lines a parser recognised but refused to read (an address the sender may have written), by parser and reason",
    labelNames: ["parser", "reason"],
    registers: [this.registry],
  });
  readonly suppressed = new Counter({
    name: "portcullis_events_suppressed_total",
    help: "Events from sources banned at the time, not counted",
    registers: [this.registry],
  });
  readonly alerts = new Counter({
    name: "portcullis_alerts_total",
    help: "Alerts, by rule and origin",
    labelNames: ["rule", "origin"],
    registers: [this.registry],
  });
  readonly outcomes = new Counter({
    name: "portcullis_policy_outcomes_total",
    help: "Policy results by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly responderOps = new Counter({
    name: "portcullis_responder_entries_total",
    help: "Entries applied/removed per responder",
    labelNames: ["responder", "op", "result"],
    registers: [this.registry],
  });
  readonly responderSeconds = new Histogram({
    name: "portcullis_responder_batch_seconds",
    help: "Time to apply or remove one batch",
    labelNames: ["responder", "op"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: "portcullis_pipeline_batch_seconds",
    help: "Time from a batch of lines entering the pipeline to its decisions being recorded",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly activeBans = new Gauge({
    name: "portcullis_active_bans",
    help: "Decisions in force",
    registers: [this.registry],
  });
  readonly trackedKeys = new Gauge({
    name: "portcullis_rule_tracked_keys",
    help: "Groups tracked per rule",
    labelNames: ["rule"],
    registers: [this.registry],
  });
  readonly evictions = new Gauge({
    name: "portcullis_rule_evictions",
    help: "Groups evicted per rule (cap on tracked keys reached)",
    labelNames: ["rule"],
    registers: [this.registry],
  });
  readonly sourceUp = new Gauge({
    name: "portcullis_source_up",
    help: "1 while a source is healthy (following its input), 0 while it is down, degraded or paused (see status)",
    labelNames: ["source", "type"],
    registers: [this.registry],
  });
  readonly responderUp = new Gauge({
    name: "portcullis_responder_up",
    help: "1 while a responder is healthy (its firewall or service answers and is set up), 0 otherwise",
    labelNames: ["responder", "type"],
    registers: [this.registry],
  });
  readonly heldOutcomes = new Gauge({
    name: "portcullis_held_outcomes",
    help: "Outcomes (alerts, decisions) of lines already read whose commit the store refused, held in memory for the next commit",
    registers: [this.registry],
  });
  readonly ingestionPaused = new Gauge({
    name: "portcullis_ingestion_paused",
    help: "1 while sources are not read because the store cannot be written and the held outcomes reached store.max_held_outcomes",
    registers: [this.registry],
  });
  readonly ingestionPauses = new Counter({
    name: "portcullis_ingestion_pauses_total",
    help: "Times reading from sources was paused because the store could not be written",
    registers: [this.registry],
  });
  readonly breaker = new Counter({
    name: "portcullis_circuit_breaker_open_total",
    help: "Times the ban-rate circuit breaker opened",
    registers: [this.registry],
  });

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
