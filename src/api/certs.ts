/**
 * The API's TLS certificate: the user's (`api.tls.cert` + `api.tls.key`), or one generated on first run in
 * `<data_dir>/tls/` and reused afterwards, so its SHA-256 fingerprint stays stable for connectors that pin it.
 *
 * Generation: an EC P-256 key made by node:crypto (written 0600 before anything else happens), and a self-signed
 * X.509 certificate (10 years, serverAuth, SAN = loopback, localhost, the host name and the listen address) made
 * by the system `openssl` binary, spawned with an argument array. Node has no X.509 writer, and the npm
 * generators pull in 10+ packages (@peculiar/x509, pkijs); openssl is on every Debian/RHEL host (ca-certificates
 * depends on it). Without openssl, the error says to install it or configure a certificate.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Clock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { ProcessExec, type Exec } from "../core/exec.ts";
import { canonicalIp } from "../core/ip.ts";
import type { Logger } from "../core/logger.ts";

export interface Certificates {
  cert: string;
  key: string;
  /** CA bundle for client certificates (mTLS), when configured. */
  clientCa?: string;
  /** SHA-256 fingerprint of the certificate, colon-separated upper-case hex (as openssl and Kibana print it). */
  fingerprint: string;
  /** True when the certificate is the generated self-signed one. */
  generated: boolean;
  certPath: string;
  keyPath: string;
  /** Expiry (epoch ms). */
  validTo: number;
  /** The certificate's subjectAltName, as node prints it. */
  subjectAltName: string;
}

export interface CertificateOptions {
  dataDir: string;
  /** User certificate and key files (both or neither). */
  cert?: string;
  key?: string;
  clientCa?: string;
  /** The address the API listens on (added to the generated certificate's names). */
  listenHost?: string;
  clock: Clock;
  logger?: Logger;
  /** Runs openssl (tests); default: spawn. */
  exec?: Exec;
  /** The openssl binary. Default `openssl` on PATH. */
  openssl?: string;
}

const VALID_DAYS = 3650;
/** A generated certificate this close to its expiry is replaced at start (with a warning: the pin changes). */
const RENEW_BEFORE = 30 * 86_400_000;

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `api.tls.${what}: cannot read ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

function describe(
  cert: string,
  key: string,
  certPath: string,
  keyPath: string,
  generated: boolean,
): Certificates {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `${certPath}: not a PEM certificate: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  let ok: boolean;
  try {
    ok = x.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `${keyPath}: not a PEM private key: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (!ok) throw new PortcullisError("CONFIG_INVALID", `${keyPath} is not the private key of ${certPath}`);
  return {
    cert,
    key,
    fingerprint: x.fingerprint256,
    generated,
    certPath,
    keyPath,
    validTo: Date.parse(x.validTo),
    subjectAltName: x.subjectAltName ?? "",
  };
}

/** Names for a generated certificate: loopback, localhost, the host name, and the listen address(es). */
export function certificateNames(listenHost?: string): string[] {
  const names = new Set(["IP:127.0.0.1", "IP:::1", "DNS:localhost"]);
  const h = hostname();
  if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(h)) names.add(`DNS:${h}`);
  const ip = listenHost === undefined ? undefined : canonicalIp(listenHost);
  if (ip === "0.0.0.0" || ip === "::") {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        const c = canonicalIp(a.address);
        if (c && !a.internal) names.add(`IP:${c}`);
      }
    }
  } else if (ip) names.add(`IP:${ip}`);
  return [...names];
}

async function generate(opts: CertificateOptions, certPath: string, keyPath: string): Promise<void> {
  const dir = join(opts.dataDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyTmp = `${keyPath}.tmp`;
  const certTmp = `${certPath}.tmp`;
  rmSync(keyTmp, { force: true });
  rmSync(certTmp, { force: true });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(keyTmp, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  const exec = opts.exec ?? new ProcessExec();
  const argv = [
    opts.openssl ?? "openssl",
    "req",
    "-new",
    "-x509",
    "-key",
    keyTmp,
    "-sha256",
    "-days",
    String(VALID_DAYS),
    "-subj",
    "/O=Portcullis/CN=portcullis-api",
    "-addext",
    `subjectAltName=${certificateNames(opts.listenHost).join(",")}`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature",
    "-addext",
    "extendedKeyUsage=serverAuth",
    "-out",
    certTmp,
  ];
  const r = await exec.run(argv, undefined, { timeoutMs: 30_000 });
  if (r.code !== 0 || !existsSync(certTmp)) {
    rmSync(keyTmp, { force: true });
    throw new PortcullisError(
      "CONFIG_INVALID",
      `cannot generate the API's self-signed certificate with openssl (exit ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}); ` +
        "install openssl, or set api.tls.cert and api.tls.key",
    );
  }
  chmodSync(certTmp, 0o644);
  renameSync(keyTmp, keyPath);
  renameSync(certTmp, certPath);
}

/**
 * The certificate to serve: the configured one, or the generated one (created now if missing, expired or about
 * to expire). Logs the fingerprint at info level.
 */
export async function loadCertificates(opts: CertificateOptions): Promise<Certificates> {
  let c: Certificates;
  if (opts.cert !== undefined || opts.key !== undefined) {
    if (opts.cert === undefined || opts.key === undefined) {
      throw new PortcullisError("CONFIG_INVALID", "api.tls.cert and api.tls.key go together");
    }
    c = describe(readPem(opts.cert, "cert"), readPem(opts.key, "key"), opts.cert, opts.key, false);
    if (c.validTo <= opts.clock.now()) {
      opts.logger?.warn(
        { cert: opts.cert, valid_to: new Date(c.validTo).toISOString() },
        "API certificate has expired",
      );
    }
  } else {
    const certPath = join(opts.dataDir, "tls", "api.crt");
    const keyPath = join(opts.dataDir, "tls", "api.key");
    let existing: Certificates | undefined;
    if (existsSync(certPath) && existsSync(keyPath)) {
      try {
        existing = describe(
          readFileSync(certPath, "utf8"),
          readFileSync(keyPath, "utf8"),
          certPath,
          keyPath,
          true,
        );
      } catch (e) {
        opts.logger?.warn(
          { cert: certPath, error: (e as Error).message },
          "generated API certificate unreadable; replacing it",
        );
      }
    }
    if (existing && existing.validTo - RENEW_BEFORE <= opts.clock.now()) {
      opts.logger?.warn(
        { cert: certPath },
        "generated API certificate expires soon; replacing it (its fingerprint changes)",
      );
      existing = undefined;
    }
    if (!existing) {
      await generate(opts, certPath, keyPath);
      existing = describe(
        readFileSync(certPath, "utf8"),
        readFileSync(keyPath, "utf8"),
        certPath,
        keyPath,
        true,
      );
      opts.logger?.info(
        { cert: certPath, fingerprint: existing.fingerprint },
        "generated a self-signed API certificate",
      );
    }
    c = existing;
  }
  if (opts.clientCa !== undefined) {
    c.clientCa = readPem(opts.clientCa, "client_ca");
    try {
      new X509Certificate(c.clientCa);
    } catch (e) {
      throw new PortcullisError(
        "CONFIG_INVALID",
        `api.tls.client_ca: ${opts.clientCa} is not a PEM certificate`,
        {
          cause: e,
        },
      );
    }
  }
  opts.logger?.info(
    { fingerprint: c.fingerprint, generated: c.generated },
    "API certificate (SHA-256 fingerprint)",
  );
  return c;
}
