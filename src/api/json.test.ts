import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "./errors.ts";
import { jsonDepth, parseJsonBody } from "./json.ts";

const code = (f: () => unknown) => {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof ApiError ? e.code : String(e);
  }
};

test("json depth: arrays and objects count, brackets inside strings (and escaped quotes) do not", () => {
  assert.equal(jsonDepth(Buffer.from("1")), 0);
  assert.equal(jsonDepth(Buffer.from('{"a":[1,{"b":2}]}')), 3);
  assert.equal(jsonDepth(Buffer.from('{"a":"[[[[{{{{","b":"\\"[[[["}')), 1);
  assert.equal(jsonDepth(Buffer.from("[".repeat(1000)), 10), 11, "stops early");
});

test("json body: empty, blank, invalid, too deep, __proto__ each have their code", () => {
  assert.equal(
    code(() => parseJsonBody(Buffer.alloc(0), 64)),
    "BODY_EMPTY",
  );
  assert.equal(
    code(() => parseJsonBody(Buffer.from(" \r\n\t"), 64)),
    "BODY_EMPTY",
  );
  assert.equal(
    code(() => parseJsonBody(Buffer.from("{'a':1}"), 64)),
    "JSON_INVALID",
  );
  assert.equal(
    code(() => parseJsonBody(Buffer.from("[[[1]]]"), 2)),
    "JSON_TOO_DEEP",
  );
  assert.equal(
    code(() => parseJsonBody(Buffer.from('{"a":{"__proto__":{"x":1}}}'), 64)),
    "JSON_FORBIDDEN_KEY",
  );
  assert.equal(
    code(() => parseJsonBody(Buffer.from('{"__pro\\u0074o__":1}'), 64)),
    "JSON_FORBIDDEN_KEY",
  );
  assert.deepEqual(
    parseJsonBody(Buffer.from('{"ip":"203.0.113.7","note":"__proto__ in a value is fine"}'), 64),
    {
      ip: "203.0.113.7",
      note: "__proto__ in a value is fine",
    },
  );
  assert.deepEqual(parseJsonBody(Buffer.from('"\\u00e9t\\u00e9"'), 64), "été");
});
