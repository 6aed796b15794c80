/**
 * `portcullis token create|list|revoke`: API bearer tokens, stored hashed in the daemon's store (the config's
 * `store.path`, else `<data-dir>/portcullis.db`; `--config` and `--data-dir` as for the other commands). Works
 * whether or not the daemon runs (SQLite in WAL mode takes both); a running daemon sees a new token at once and a
 * revocation within its cache time (2 s). `create` prints the token once, alone on the last line of stdout.
 */
import { userInfo } from "node:os";
import type { Command } from "commander";
import { SCOPES, TokenStore, type TokenInfo } from "../../auth/tokens.ts";
import { SystemClock } from "../../core/clock.ts";
import { PortcullisError } from "../../core/errors.ts";
import type { Store } from "../../store/store.ts";
import { dataDirOf, localConfig, openLocalStore, type LocalOptions } from "../local.ts";
import type { CliIO } from "../main.ts";
import { jsonLine, printable, table } from "../table.ts";

function common(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "configuration file (default /etc/portcullis/portcullis.yaml if present)")
    .option("-d, --data-dir <dir>", "state directory (overrides the config's data_dir)");
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)];

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? "?"}`;
  }
}

/** Runs `f` with the daemon's store; `create: false` refuses a data directory holding no state (exit 66). */
async function withStore<T>(
  opts: LocalOptions,
  create: boolean,
  f: (store: Store, tokens: TokenStore) => Promise<T>,
): Promise<T> {
  const config = localConfig(opts);
  const store = await openLocalStore(dataDirOf(opts, config), config, { create });
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

  common(token.command("create"))
    .description(`create a token; it is printed once, alone on the last line (scopes: ${SCOPES.join(", ")})`)
    .option(
      "--scope <scope>",
      "webhook (SIEM intake), read (lists, stream, metrics), admin (everything); repeatable",
      collect,
    )
    .option("--name <name>", "a name for the audit trail (default: <scope>-<id>)")
    .option("--allow <cidr>", "only accept the token from these addresses or ranges; repeatable", collect)
    .action(async (opts: LocalOptions & { scope?: string[]; name?: string; allow?: string[] }) => {
      if (!opts.scope?.length)
        throw new PortcullisError("USAGE", `--scope is required (${SCOPES.join(", ")})`);
      await withStore(opts, true, async (store, tokens) => {
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
          `Created token ${info.id} "${printable(info.name)}" (scope: ${info.scopes.join(", ")}; from: ${info.allow.length ? info.allow.join(", ") : "any address"}).\n` +
            "It is shown only this once; send it as the header  Authorization: Bearer <token>\n" +
            `${secret}\n`,
        );
      });
      setExit(0);
    });

  common(token.command("list"))
    .description("list tokens (never their secrets)")
    .option("--json", "JSON lines, one token per line")
    .action(async (opts: LocalOptions & { json?: boolean }) => {
      const list = await withStore(opts, false, (_s, tokens) => tokens.list());
      if (opts.json) {
        for (const t of list) io.stdout.write(`${jsonLine(tokenJson(t))}\n`);
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

  common(token.command("revoke"))
    .description("revoke a token by id (the 12 hex digits after pcl_)")
    .argument("<id>", "token id")
    .action(async (id: string, opts: LocalOptions) => {
      const m = /^(?:pcl_)?([0-9a-f]{12})(?:_.*)?$/.exec(id);
      if (!m)
        throw new PortcullisError(
          "USAGE",
          `"${printable(id.slice(0, 20))}" is not a token id (12 hex digits)`,
        );
      const tid = m[1]!;
      const info = await withStore(opts, false, async (store, tokens) => {
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
          ? `Token ${tid} "${printable(info.after.name)}" was already revoked (${when(info.before.revoked_at)}).\n`
          : `Revoked token ${tid} "${printable(info.after.name)}".\n`,
      );
      setExit(0);
    });
}
