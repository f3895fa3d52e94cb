/**
 * `reagent-stream migrate`: applies pending schema migrations to ClickHouse or DuckDB (the worker
 * also does at start unless its sink has `migrate: false`). Safe to run again: applied versions
 * are recorded in `<prefix>schema_migrations` and skipped.
 *
 * The store flags (src/cli/store-options.ts) are shared with `query`, `report` and `ui`.
 */
import type { Command } from "commander";
import type { MigrationReport } from "../../../connectors/sink-common/audit-sink.js";
import { addStoreOptions, openStore, type StoreFlags } from "../store-options.js";

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
