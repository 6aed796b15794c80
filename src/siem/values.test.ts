import assert from "node:assert/strict";
import { test } from "node:test";
import { lookup, severityFromRisk, severityWord, techniques, time } from "./values.ts";

test("time: the spellings SIEMs send", () => {
  const t = Date.UTC(2024, 6, 2, 8, 15, 19, 412);
  assert.equal(time("2024-07-02T08:15:19.412Z"), t);
  assert.equal(time("2024-07-02T08:15:19.412000+00:00"), t); // ElastAlert (Python isoformat)
  assert.equal(time("2024-07-02T08:15:19.412+0000"), t); // Wazuh
  assert.equal(time("2024-07-02T10:15:19.412+02:00"), t);
  assert.equal(time("2024-07-02 08:15:19.412"), t); // no zone: UTC
  assert.equal(time("1719908119.412"), t); // Splunk _time
  assert.equal(time("1719908119"), t - 412);
  assert.equal(time(1719908119412), t);
  assert.equal(time(1719908119), t - 412);
  for (const bad of [
    "",
    "yesterday",
    "2024-13-02T00:00:00Z",
    "2024-07-02T25:00:00Z",
    "9".repeat(100),
    NaN,
    null,
    {},
    -1,
  ]) {
    assert.equal(time(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(time("1900-01-01T00:00:00Z"), undefined);
});

test("lookup: nested, flattened and mixed keys; own properties only", () => {
  assert.equal(lookup({ source: { ip: "a" } }, "source.ip"), "a");
  assert.equal(lookup({ "source.ip": "b" }, "source.ip"), "b");
  assert.equal(lookup({ kibana: { "alert.severity": "c" } }, "kibana.alert.severity"), "c");
  assert.equal(lookup({ "kibana.alert": { severity: "d" } }, "kibana.alert.severity"), "d");
  assert.equal(lookup({}, "constructor"), undefined);
  assert.equal(lookup({}, "toString"), undefined);
  assert.equal(lookup(JSON.parse('{"__proto__": {"ip": "e"}}'), "__proto__.ip"), "e");
  assert.equal(lookup(["x"], "0"), undefined);
  assert.equal(lookup("string", "length"), undefined);
});

test("severities and techniques", () => {
  assert.equal(severityWord("Medium"), "medium");
  assert.equal(severityWord("informational"), "low");
  assert.equal(severityWord("toString"), undefined);
  assert.equal(severityFromRisk(47), "medium");
  assert.equal(severityFromRisk(73), "high");
  assert.equal(severityFromRisk(99), "critical");
  assert.equal(severityFromRisk(101), undefined);
  assert.deepEqual(
    [
      ...techniques(
        [
          { technique: [{ id: "T1110", subtechnique: [{ id: "T1110.001" }] }], tactic: { id: "TA0006" } },
          "t1078",
          "nope",
        ],
        new Set(),
      ),
    ],
    ["T1110", "T1110.001", "T1078"],
  );
});
