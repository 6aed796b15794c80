/**
 * `portcullis token create|list|revoke`: API bearer tokens, stored hashed in `<data-dir>/portcullis.db`. Works
 * whether or not the daemon runs (SQLite in WAL mode takes both); a running daemon sees a new token at once and a
 * revocation within its cache time (2 s). `create` prints the token once, alone on the last line of stdout.
 */
import { userInfo } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { SCOPES, TokenStore, type TokenInfo } from "../../auth/tokens.ts";
import { SystemClock } from "../../core/clock.ts";
import { PortcullisError } from "../../core/errors.ts";
import { openSqliteStore } from "../../store/sqlite.ts";
import type { Store } from "../../store/store.ts";
import type { CliIO } from "../main.ts";
import { table } from "../table.ts";

export const DEFAULT_DATA_DIR = "/var/lib/portcullis";

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)];

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? "?"}`;
  }
}

async function withStore<T>(
  dataDir: string,
  f: (store: Store, tokens: TokenStore) => Promise<T>,
): Promise<T> {
  const store = await openSqliteStore(join(dataDir, "portcullis.db"), { clock: () => SystemClock.now() });
  try {
    const tokens = new TokenStore(store.db, SystemClock);
    return await f(store, tokens);
  } finally {
    await store.close();
  }
}

function when(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function tokenJson(t: TokenInfo) {
  return {
    id: t.id,
    name: t.name,
    scopes: t.scopes,
    allow: t.allow,
    created_at: when(t.created_at),
    last_used_at: t.last_used_at === undefined ? null : when(t.last_used_at),
    revoked_at: t.revoked_at === undefined ? null : when(t.revoked_at),
  };
}

export function registerToken(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const token = program
    .command("token")
    .description("create, list and revoke API tokens (works whether or not the daemon runs)");

  token
    .command("create")
    .description(`create a token; it is printed once, alone on the last line (scopes: ${SCOPES.join(", ")})`)
    .option(
      "--scope <scope>",
      "webhook (SIEM intake), read (lists, stream, metrics), admin (everything); repeatable",
      collect,
    )
    .option("--name <name>", "a name for the audit trail (default: <scope>-<id>)")
    .option("--allow <cidr>", "only accept the token from these addresses or ranges; repeatable", collect)
    .option("--data-dir <dir>", "state directory holding portcullis.db", DEFAULT_DATA_DIR)
    .action(async (opts: { scope?: string[]; name?: string; allow?: string[]; dataDir: string }) => {
      if (!opts.scope?.length)
        throw new PortcullisError("USAGE", `--scope is required (${SCOPES.join(", ")})`);
      await withStore(opts.dataDir, async (store, tokens) => {
        const { token: secret, info } = await tokens.create({
          scopes: opts.scope!,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.allow ? { allow: opts.allow } : {}),
        });
        await store.audit([
          {
            at: info.created_at,
            actor: { type: "cli", name: cliUser() },
            action: "token",
            detail: { op: "create", id: info.id, name: info.name, scopes: info.scopes, allow: info.allow },
          },
        ]);
        io.stdout.write(
          `Created token ${info.id} "${info.name}" (scope: ${info.scopes.join(", ")}; from: ${info.allow.length ? info.allow.join(", ") : "any address"}).\n` +
            "It is shown only this once; send it as the header  Authorization: Bearer <token>\n" +
            `${secret}\n`,
        );
      });
      setExit(0);
    });

  token
    .command("list")
    .description("list tokens (never their secrets)")
    .option("--json", "JSON lines, one token per line")
    .option("--data-dir <dir>", "state directory holding portcullis.db", DEFAULT_DATA_DIR)
    .action(async (opts: { json?: boolean; dataDir: string }) => {
      const list = await withStore(opts.dataDir, (_s, tokens) => tokens.list());
      if (opts.json) {
        for (const t of list) io.stdout.write(`${JSON.stringify(tokenJson(t))}\n`);
      } else if (!list.length) {
        io.stdout.write(
          "no tokens (create one with: portcullis token create --scope webhook --name kibana)\n",
        );
      } else {
        const rows = list.map((t) => [
          t.id,
          t.name,
          t.scopes.join(","),
          t.allow.length ? t.allow.join(",") : "any",
          when(t.created_at),
          when(t.last_used_at),
          t.revoked_at === undefined ? "active" : `revoked ${when(t.revoked_at)}`,
        ]);
        io.stdout.write(
          `${table(["id", "name", "scopes", "from", "created", "last used", "state"], rows)}\n`,
        );
      }
      setExit(0);
    });

  token
    .command("revoke")
    .description("revoke a token by id (the 12 hex digits after pcl_)")
    .argument("<id>", "token id")
    .option("--data-dir <dir>", "state directory holding portcullis.db", DEFAULT_DATA_DIR)
    .action(async (id: string, opts: { dataDir: string }) => {
      const m = /^(?:pcl_)?([0-9a-f]{12})(?:_.*)?$/.exec(id);
      if (!m) throw new PortcullisError("USAGE", `"${id.slice(0, 20)}" is not a token id (12 hex digits)`);
      const tid = m[1]!;
      const info = await withStore(opts.dataDir, async (store, tokens) => {
        const before = await tokens.get(tid);
        const after = await tokens.revoke(tid);
        if (after && before?.revoked_at === undefined) {
          await store.audit([
            {
              at: after.revoked_at ?? SystemClock.now(),
              actor: { type: "cli", name: cliUser() },
              action: "token",
              detail: { op: "revoke", id: tid, name: after.name },
            },
          ]);
        }
        return { before, after };
      });
      if (!info.after) {
        io.stderr.write(`portcullis: no token with id ${tid}\n`);
        setExit(1);
        return;
      }
      io.stdout.write(
        info.before?.revoked_at !== undefined
          ? `Token ${tid} "${info.after.name}" was already revoked (${when(info.before.revoked_at)}).\n`
          : `Revoked token ${tid} "${info.after.name}".\n`,
      );
      setExit(0);
    });
}
