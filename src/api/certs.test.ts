import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ManualClock, SystemClock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { memoryLogger } from "../core/logger.ts";
import { certificateNames, fingerprintOf, loadCertificates } from "./certs.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-certs-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, `d${n++}`);
const isConfigError = (e: unknown) => e instanceof PortcullisError && e.code === "CONFIG_INVALID";

test("certs: first run generates a self-signed certificate (key 0600, dir 0700) and logs its fingerprint", async () => {
  const dataDir = dir();
  const logger = memoryLogger();
  const c = await loadCertificates({ dataDir, clock: SystemClock, logger, listenHost: "127.0.0.1" });
  assert.equal(c.generated, true);
  assert.equal(c.certPath, join(dataDir, "tls", "api.crt"));
  assert.equal(statSync(c.keyPath).mode & 0o777, 0o600);
  assert.equal(statSync(join(dataDir, "tls")).mode & 0o777, 0o700);
  const x = new X509Certificate(c.cert);
  assert.equal(c.fingerprint, x.fingerprint256);
  assert.match(c.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(fingerprintOf(c.cert), c.fingerprint);
  assert.match(x.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
  assert.match(x.subjectAltName ?? "", /DNS:localhost/);
  assert.ok(x.issuer === x.subject && x.verify(x.publicKey), "self-signed");
  assert.ok(c.validTo > Date.now() + 9 * 365 * 86_400_000);
  assert.ok(
    logger.records.some(
      (r) => r.fingerprint === c.fingerprint && r.msg === "generated a self-signed API certificate",
    ),
  );
});

test("certs: later runs reuse the generated certificate (the pin stays stable); near expiry it is replaced", async () => {
  const dataDir = dir();
  const first = await loadCertificates({ dataDir, clock: SystemClock });
  const again = await loadCertificates({ dataDir, clock: SystemClock });
  assert.equal(again.fingerprint, first.fingerprint);
  const late = new ManualClock(first.validTo - 86_400_000);
  const renewed = await loadCertificates({ dataDir, clock: late });
  assert.notEqual(renewed.fingerprint, first.fingerprint);
});

test("certs: a user certificate and key are used as given; a mismatched key or a missing file is a config error", async () => {
  const gen = await loadCertificates({ dataDir: dir(), clock: SystemClock });
  const other = await loadCertificates({ dataDir: dir(), clock: SystemClock });
  const d = dir();
  const c = await loadCertificates({ dataDir: d, cert: gen.certPath, key: gen.keyPath, clock: SystemClock });
  assert.equal(c.generated, false);
  assert.equal(c.fingerprint, gen.fingerprint);
  await assert.rejects(
    loadCertificates({ dataDir: d, cert: gen.certPath, key: other.keyPath, clock: SystemClock }),
    isConfigError,
  );
  await assert.rejects(
    loadCertificates({ dataDir: d, cert: join(d, "nope.crt"), key: gen.keyPath, clock: SystemClock }),
    isConfigError,
  );
  await assert.rejects(
    loadCertificates({ dataDir: d, cert: gen.certPath, clock: SystemClock }),
    isConfigError,
  );
  const notPem = join(root, "not.pem");
  writeFileSync(notPem, "hello");
  await assert.rejects(
    loadCertificates({ dataDir: d, cert: notPem, key: gen.keyPath, clock: SystemClock }),
    isConfigError,
  );
  const withCa = await loadCertificates({
    dataDir: d,
    cert: gen.certPath,
    key: gen.keyPath,
    clientCa: other.certPath,
    clock: SystemClock,
  });
  assert.equal(withCa.clientCa, other.cert);
  await assert.rejects(
    loadCertificates({
      dataDir: d,
      cert: gen.certPath,
      key: gen.keyPath,
      clientCa: notPem,
      clock: SystemClock,
    }),
    isConfigError,
  );
});

test("certs: without openssl the error says what to do, and no key is left behind", async () => {
  const dataDir = dir();
  await assert.rejects(
    loadCertificates({ dataDir, clock: SystemClock, openssl: "/nonexistent/openssl" }),
    (e: unknown) =>
      isConfigError(e) &&
      /install openssl, or set api\.tls\.cert and api\.tls\.key/.test((e as Error).message),
  );
  assert.throws(() => statSync(join(dataDir, "tls", "api.key")));
  assert.throws(() => statSync(join(dataDir, "tls", "api.key.tmp")));
});

test("certs: an unreadable generated pair is replaced", async () => {
  const dataDir = dir();
  const first = await loadCertificates({ dataDir, clock: SystemClock });
  const other = await loadCertificates({ dataDir: dir(), clock: SystemClock });
  copyFileSync(other.keyPath, first.keyPath);
  const logger = memoryLogger();
  const fixed = await loadCertificates({ dataDir, clock: SystemClock, logger });
  assert.notEqual(fixed.fingerprint, first.fingerprint);
  assert.ok(logger.records.some((r) => r.level === "warn"));
});

test("certs: names cover loopback, localhost and a specific listen address", () => {
  const names = certificateNames("192.0.2.10");
  for (const n of ["IP:127.0.0.1", "IP:::1", "DNS:localhost", "IP:192.0.2.10"])
    assert.ok(names.includes(n), n);
  assert.ok(!certificateNames("0.0.0.0").includes("IP:0.0.0.0"));
});
