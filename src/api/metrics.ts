/**
 * The API's own Prometheus metrics (`portcullis_api_*`), appended to the daemon's on `/metrics`. One registry
 * per server (tests run several servers in one process).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "portcullis_api_requests_total",
    help: "API requests by route, method and status",
    labelNames: ["route", "method", "status"],
    registers: [this.registry],
  });
  readonly seconds = new Histogram({
    name: "portcullis_api_request_seconds",
    help: "API request latency (from the request line to the response), by route",
    labelNames: ["route"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: "portcullis_api_auth_failures_total",
    help: "Refused authentications by error code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: "portcullis_api_rate_limited_total",
    help: "Requests refused by a rate limit (source, token, auth_failures)",
    labelNames: ["limit"],
    registers: [this.registry],
  });
  readonly webhookAlerts = new Counter({
    name: "portcullis_api_webhook_alerts_total",
    help: "Alerts received by webhook, by kind and outcome",
    labelNames: ["kind", "outcome"],
    registers: [this.registry],
  });
  readonly streamClients = new Gauge({
    name: "portcullis_api_stream_clients",
    help: "Connected /v1/stream clients",
    registers: [this.registry],
  });
  readonly streamDropped = new Counter({
    name: "portcullis_api_stream_dropped_total",
    help: "Stream clients disconnected because they read too slowly",
    registers: [this.registry],
  });

  readonly #requestChildren = new Map<
    string,
    { count: Counter.Internal; seconds: Histogram.Internal<string> }
  >();

  /** Counts one request; the labelled children are cached (label hashing is the costly part of prom-client). */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let c = this.#requestChildren.get(key);
    if (!c) {
      c = {
        count: this.requests.labels(route, method, String(status)),
        seconds: this.seconds.labels(route),
      };
      this.#requestChildren.set(key, c);
    }
    c.count.inc();
    c.seconds.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
