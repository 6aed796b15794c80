/**
 * API bearer tokens (see docs/adr/0007-api-tokens.md).
 *
 * A token reads `pcl_<id>_<secret>`: `id` is 12 lower-case hex digits that locate the row (not secret), `secret` is
 * 32 random bytes in base64url. The store keeps only `sha256:<hex>` of the whole token text; verification hashes
 * the presented token and compares the digests with `crypto.timingSafeEqual`. The secret has 256 bits of entropy,
 * so a slow hash (scrypt) would buy nothing against guessing and would cost ~50 ms per request.
 *
 * Scopes: `webhook` (SIEM intake), `read` (lists, stream, metrics), `admin` (ban/unban; implies every scope).
 * `webhook` does not imply `read`: webhook tokens live in SIEM connector configs, the most exposed place, and
 * must not reveal the ban list.
 *
 * Never log a token: only its id and name.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { CidrSet, parseCidr } from "../core/ip.ts";
import type { Database, TokensTable } from "../store/schema.ts";

export type Scope = "webhook" | "read" | "admin";
export const SCOPES: readonly Scope[] = ["webhook", "read", "admin"];

/** Whether a token holding `granted` may do what needs `needed`: admin implies every scope, the others only themselves. */
export function scopeAllows(granted: readonly Scope[], needed: Scope): boolean {
  return granted.includes("admin") || granted.includes(needed);
}

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  /** Source CIDRs the token may be used from; empty: any. */
  allow: string[];
  created_at: number;
  revoked_at?: number;
  last_used_at?: number;
}

/** A token that passed verification, as the API needs it. */
export interface VerifiedToken {
  id: string;
  name: string;
  scopes: readonly Scope[];
  /** Compiled allowlist; undefined: any source. */
  allow: CidrSet | undefined;
}

export type VerifyFailure = "malformed" | "invalid" | "revoked";
export type VerifyResult = { ok: true; token: VerifiedToken } | { ok: false; reason: VerifyFailure };

/** What the API needs from a token store (tests may pass a double). */
export interface TokenVerifier {
  /** Constant-time check of a presented token. Never throws for bad input; store errors propagate. */
  verify(token: string): Promise<VerifyResult>;
}

export const TOKEN_PREFIX = "pcl_";
const TOKEN_RE = /^pcl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/;

/** The id part of a well-formed token, or undefined. */
export function tokenId(token: string): string | undefined {
  if (token.length !== 60) return undefined;
  return TOKEN_RE.exec(token)?.[1];
}

export function hashToken(token: string): string {
  return `sha256:${createHash("sha256").update(token, "utf8").digest("hex")}`;
}

function digestOf(stored: string): Buffer | undefined {
  if (!stored.startsWith("sha256:") || stored.length !== 71) return undefined;
  return Buffer.from(stored.slice(7), "hex");
}

function parseJsonList(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function rowToInfo(r: TokensTable): TokenInfo {
  const info: TokenInfo = {
    id: r.id,
    name: r.name,
    scopes: parseJsonList(r.scopes).filter(isScope),
    allow: parseJsonList(r.allow),
    created_at: Number(r.created_at),
  };
  if (r.revoked_at !== null) info.revoked_at = Number(r.revoked_at);
  if (r.last_used_at !== null) info.last_used_at = Number(r.last_used_at);
  return info;
}

interface Cached {
  digest: Buffer | undefined;
  revoked: boolean;
  token: VerifiedToken;
  loadedAt: number;
  lastUsedWritten: number;
}

export interface TokenStoreOptions {
  /**
   * How long a verified row is reused without reading the database (ms). A revocation made by this process
   * takes effect at once; one made by another process (the CLI) within this time. Default 2 s.
   */
  cacheTtl?: number;
  /** `last_used_at` is written at most this often per token (ms). Default 60 s. */
  lastUsedInterval?: number;
  /** Where failed background writes of `last_used_at` are reported. */
  onError?: (e: unknown) => void;
}

const DUMMY_DIGEST = Buffer.alloc(32);
const MAX_CACHE = 10_000;

export interface CreateTokenRequest {
  scopes: readonly string[];
  name?: string;
  allow?: readonly string[];
}

export class TokenStore implements TokenVerifier {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #lastUsedInterval: number;
  readonly #onError: (e: unknown) => void;
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Set<Promise<void>>();

  constructor(db: Kysely<Database>, clock: Clock, opts: TokenStoreOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#ttl = opts.cacheTtl ?? 2000;
    this.#lastUsedInterval = opts.lastUsedInterval ?? 60_000;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Creates a token; the returned `token` text is the only copy of the secret. */
  async create(req: CreateTokenRequest): Promise<{ token: string; info: TokenInfo }> {
    const scopes = [...new Set(req.scopes)];
    if (!scopes.length) throw new PortcullisError("USAGE", `a token needs a scope (${SCOPES.join(", ")})`);
    for (const s of scopes) {
      if (!isScope(s))
        throw new PortcullisError("USAGE", `unknown scope "${s}" (scopes: ${SCOPES.join(", ")})`);
    }
    const allow: string[] = [];
    for (const a of req.allow ?? []) {
      const c = parseCidr(a);
      if (!c) throw new PortcullisError("USAGE", `--allow ${a}: not an IP address or CIDR`);
      allow.push(c.text);
    }
    if (req.name !== undefined && !NAME_RE.test(req.name)) {
      throw new PortcullisError(
        "USAGE",
        "a token name is 1-64 characters: letters, digits and . _ @ : - (starting with a letter or digit)",
      );
    }
    for (let attempt = 0; ; attempt++) {
      const id = randomBytes(6).toString("hex");
      const token = `${TOKEN_PREFIX}${id}_${randomBytes(32).toString("base64url")}`;
      const row: TokensTable = {
        id,
        name: req.name ?? `${scopes.join("+")}-${id}`,
        hash: hashToken(token),
        scopes: JSON.stringify(scopes),
        allow: JSON.stringify(allow),
        created_at: this.#clock.now(),
        revoked_at: null,
        last_used_at: null,
      };
      try {
        await this.#db.insertInto("tokens").values(row).execute();
      } catch (e) {
        // An id collision (48 random bits) is retried once; anything else is a real error.
        if (attempt === 0 && (await this.#exists(id))) continue;
        throw e;
      }
      return { token, info: rowToInfo(row) };
    }
  }

  async #exists(id: string): Promise<boolean> {
    return (
      (await this.#db.selectFrom("tokens").select("id").where("id", "=", id).executeTakeFirst()) !== undefined
    );
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.#db
      .selectFrom("tokens")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(rowToInfo);
  }

  async get(id: string): Promise<TokenInfo | undefined> {
    const r = await this.#db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? rowToInfo(r) : undefined;
  }

  /** Revokes a token (idempotent); undefined when no token has this id. */
  async revoke(id: string): Promise<TokenInfo | undefined> {
    const now = this.#clock.now();
    await this.#db
      .updateTable("tokens")
      .set({ revoked_at: now })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .execute();
    this.#cache.delete(id);
    return this.get(id);
  }

  async verify(token: string): Promise<VerifyResult> {
    const id = tokenId(token);
    if (id === undefined) return { ok: false, reason: "malformed" };
    const now = this.#clock.now();
    let c = this.#cache.get(id);
    if (!c || now - c.loadedAt >= this.#ttl || now < c.loadedAt) {
      const r = await this.#db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
      if (!r) {
        this.#cache.delete(id);
        // Same work as a known id, so the answer time does not depend on whether the id exists.
        timingSafeEqual(createHash("sha256").update(token, "utf8").digest(), DUMMY_DIGEST);
        return { ok: false, reason: "invalid" };
      }
      const info = rowToInfo(r);
      if (this.#cache.size >= MAX_CACHE) this.#cache.clear();
      c = {
        digest: digestOf(r.hash),
        revoked: r.revoked_at !== null,
        token: {
          id,
          name: info.name,
          scopes: info.scopes,
          allow: info.allow.length ? new CidrSet(info.allow) : undefined,
        },
        loadedAt: now,
        lastUsedWritten: c?.lastUsedWritten ?? Number(r.last_used_at ?? Number.NEGATIVE_INFINITY),
      };
      this.#cache.set(id, c);
    }
    const presented = createHash("sha256").update(token, "utf8").digest();
    const match = c.digest !== undefined && timingSafeEqual(presented, c.digest);
    if (!match) return { ok: false, reason: "invalid" };
    if (c.revoked) return { ok: false, reason: "revoked" };
    if (now - c.lastUsedWritten >= this.#lastUsedInterval) {
      c.lastUsedWritten = now;
      this.#track(this.#db.updateTable("tokens").set({ last_used_at: now }).where("id", "=", id).execute());
    }
    return { ok: true, token: c.token };
  }

  #track(p: Promise<unknown>): void {
    const done = p.then(
      () => {},
      (e: unknown) => this.#onError(e),
    );
    this.#pending.add(done);
    void done.finally(() => this.#pending.delete(done));
  }

  /** Waits for background `last_used_at` writes (call before closing the store). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}
