/**
 * `reagent-stream migrate`: applies pending schema migrations to ClickHouse or DuckDB (the worker
 * also does at start unless its sink has `migrate: false`). Safe to run again: applied versions
 * are recorded in `<prefix>schema_migrations` and skipped.
 *
 *   reagent-stream migrate                                   # DuckDB, ./reagent-stream.duckdb
 *   reagent-stream migrate --store clickhouse --url http://ch:8123 --database llm_audit --password-env CH_PASSWORD
 *   reagent-stream migrate --config worker.yaml              # the store named in the worker config's sinks
 *
 * The connection flags here are shared with `query`.
 */
import { Option, type Command } from "commander";
import type { AuditSink, MigrationReport, SinkConfigInput } from "../../../connectors/sink-common/factory.js";
import { DEFAULT_DUCKDB_PATH, createSink } from "../../../connectors/sink-common/factory.js";
import { ConfigError } from "../../errors.js";
import { loadWorkerConfig } from "../../app/config.js";

export const storeKinds = ["clickhouse", "duckdb"] as const;

export interface StoreFlags {
  store?: (typeof storeKinds)[number];
  url?: string;
  database?: string;
  username?: string;
  passwordEnv?: string;
  file?: string;
  tablePrefix?: string;
  config?: string;
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--store <store>", "which store (default: the one --config names, else clickhouse when --url is given, else duckdb)").choices(storeKinds))
    .option("--url <url>", "ClickHouse HTTP URL (default $REAGENT_CLICKHOUSE_URL or http://127.0.0.1:8123)")
    .option("--database <name>", "ClickHouse database (default: default)")
    .option("--username <name>", "ClickHouse user (default: default)")
    .option("--password-env <VAR>", "environment variable holding the ClickHouse password")
    .option("--file <path>", `DuckDB file (default ${DEFAULT_DUCKDB_PATH})`)
    .option("--table-prefix <prefix>", "table name prefix (default none)")
    .option("--config <worker.yaml>", "take the store settings from a worker config's sinks (flags override them)");
}

/** The sink config the flags describe: from `--config` when given, with flags on top. */
export function storeConfigFromFlags(flags: StoreFlags, env: NodeJS.ProcessEnv = process.env): SinkConfigInput {
  let base: SinkConfigInput | undefined;
  if (flags.config !== undefined) {
    const worker = loadWorkerConfig(flags.config, env);
    const stores = worker.sinks.filter((s): s is Extract<(typeof worker.sinks)[number], { type: "clickhouse" | "duckdb" }> => s.type === "clickhouse" || s.type === "duckdb");
    const picked = flags.store === undefined ? stores[0] : stores.find((s) => s.type === flags.store);
    if (picked === undefined) {
      throw new ConfigError({
        what: `reading the store from ${flags.config}`,
        why: `its sinks have no ${flags.store ?? "clickhouse or duckdb"} sink`,
        path: "sinks",
      });
    }
    base = picked;
  }
  const type = flags.store ?? base?.type ?? (flags.url !== undefined ? "clickhouse" : "duckdb");
  if (base !== undefined && base.type !== type) base = undefined;
  const common = flags.tablePrefix === undefined ? {} : { table_prefix: flags.tablePrefix };
  if (type === "clickhouse") {
    const b = base?.type === "clickhouse" ? base : { type: "clickhouse" as const, url: env.REAGENT_CLICKHOUSE_URL ?? "http://127.0.0.1:8123" };
    return {
      ...b,
      ...common,
      ...(flags.url !== undefined ? { url: flags.url } : {}),
      ...(flags.database !== undefined ? { database: flags.database } : {}),
      ...(flags.username !== undefined ? { username: flags.username } : {}),
      ...(flags.passwordEnv !== undefined ? { password_env: flags.passwordEnv } : {}),
    };
  }
  const b = base?.type === "duckdb" ? base : { type: "duckdb" as const };
  return { ...b, ...common, ...(flags.file !== undefined ? { path: flags.file } : {}) };
}

/**
 * A started store for the CLI. For queries it never migrates, and DuckDB opens read-only (a
 * missing file is an error rather than a new empty store).
 */
export async function openStore(flags: StoreFlags, opts: { forQuery: boolean }): Promise<AuditSink> {
  const cfg = storeConfigFromFlags(flags);
  const store = createSink(
    opts.forQuery ? { ...cfg, migrate: false, ...(cfg.type === "duckdb" ? { read_only: true } : { create_database: false }) } : { ...cfg, migrate: false },
  );
  await store.start();
  return store;
}

export function describeReport(r: MigrationReport): string {
  const lines = [`${r.store} ${r.serverVersion}:`];
  for (const m of r.applied) lines.push(`  applied ${m.version} ${m.name} (${m.checksum})`);
  if (r.alreadyApplied.length > 0) lines.push(`  already applied: ${r.alreadyApplied.join(", ")}`);
  if (r.applied.length === 0) lines.push("  nothing to do");
  return `${lines.join("\n")}\n`;
}

export function registerMigrate(program: Command): void {
  const cmd = program
    .command("migrate")
    .description("Apply pending schema migrations to ClickHouse or DuckDB (safe to re-run)")
    .option("--json", "print the report as JSON");
  addStoreOptions(cmd);
  cmd.action(async (flags: StoreFlags & { json?: boolean }) => {
    const store = await openStore(flags, { forQuery: false });
    try {
      const report = await store.migrate();
      process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : describeReport(report));
    } finally {
      await store.close();
    }
  });
}
