/**
 * The store flags `migrate`, `query`, `report` and `ui` share: `--store`, `--config` and each
 * registered store's own settings (src/app/components.ts STORES), generated from the store's
 * schema, so a new store brings its flags with it.
 *
 *   reagent-stream migrate                                   # the default store (DuckDB, ./reagent-stream.duckdb)
 *   reagent-stream migrate --store clickhouse --url http://ch:8123 --database llm_audit --password-env CH_PASSWORD
 *   reagent-stream migrate --config worker.yaml              # the store named in the worker config's sinks
 */
import { Option, type Command } from "commander";
import type { z } from "zod";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import type { StoreComponent } from "../../connectors/sink-common/store-component.js";
import { STORES, componentFor, createStore, storeTypes, type StoreConfigInput } from "../app/components.js";
import { loadWorkerConfig } from "../app/config.js";
import { ConfigError } from "../errors.js";
import { silentLogger } from "../pipeline/logger.js";
import { noopMetrics } from "../pipeline/contracts.js";
import { fieldInfo, flagAttr, helpText, optionFor } from "./schema-flags.js";

export interface StoreFlags {
  store?: string;
  config?: string;
  /** Each registered store's own flags, by commander attribute (`passwordEnv`). */
  readonly [attr: string]: unknown;
}

const stores: readonly StoreComponent[] = STORES;

function shapeOf(store: StoreComponent): Record<string, z.ZodType> {
  return (store.schema as unknown as { shape: Record<string, z.ZodType> }).shape;
}

/** Each flag with the stores that take it and the field it sets there. */
function storeFlagTable(): Map<string, { store: StoreComponent; field: string }[]> {
  const table = new Map<string, { store: StoreComponent; field: string }[]>();
  for (const store of stores) for (const [field, flag] of Object.entries(store.flags)) table.set(flag, [...(table.get(flag) ?? []), { store, field }]);
  return table;
}

export function addStoreOptions(cmd: Command): Command {
  cmd.addOption(
    new Option("--store <store>", `which store (default: the one --config names, else the one whose own flags are given, else ${storeTypes[0]})`).choices(storeTypes),
  );
  for (const [flag, uses] of storeFlagTable()) {
    const first = uses[0] as { store: StoreComponent; field: string };
    const info = fieldInfo(shapeOf(first.store)[first.field] as z.ZodType);
    const scope = uses.length === stores.length ? undefined : uses.map((u) => u.store.type).join(", ");
    const defaults = uses
      .map((u) => {
        const d = fieldInfo(shapeOf(u.store)[u.field] as z.ZodType).default;
        const env = u.store.envDefaults?.[u.field];
        const parts = [env === undefined ? undefined : `$${env}`, d === undefined || d === "" ? undefined : typeof d === "string" ? d : JSON.stringify(d)].filter((x) => x !== undefined);
        return parts.length === 0 ? undefined : `${uses.length > 1 ? `${u.store.type}: ` : ""}default ${parts.join(", else ")}`;
      })
      .filter((x) => x !== undefined);
    cmd.addOption(optionFor(flag, info, helpText(info, { ...(scope === undefined ? {} : { scope }), ...(defaults.length > 0 ? { defaultNote: defaults.join("; ") } : {}) })));
  }
  return cmd.option("--config <worker.yaml>", "take the store settings from a worker config's sinks (flags override them)");
}

/** The store config the flags describe: from `--config` when given, with flags on top. */
export function storeConfigFromFlags(flags: StoreFlags, env: NodeJS.ProcessEnv = process.env): StoreConfigInput {
  const given = (flag: string): unknown => flags[flagAttr(flag)];
  let base: { type: string } | undefined;
  if (flags.config !== undefined) {
    const worker = loadWorkerConfig(flags.config, env);
    const configured = worker.sinks.filter((s) => (storeTypes as readonly string[]).includes(s.type));
    const picked = flags.store === undefined ? configured[0] : configured.find((s) => s.type === flags.store);
    if (picked === undefined) {
      throw new ConfigError({ what: `reading the store from ${flags.config}`, why: `its sinks have no ${flags.store ?? storeTypes.join(" or ")} sink`, path: "sinks" });
    }
    base = picked;
  }
  // A flag only one store takes (--url, --file) says which store is meant.
  const byFlags = stores.find((s) => Object.values(s.flags).some((f) => given(f) !== undefined && stores.every((o) => o === s || !Object.values(o.flags).includes(f))));
  const type = flags.store ?? base?.type ?? byFlags?.type ?? (storeTypes[0]);
  const store = componentFor(stores, type);
  if (base !== undefined && base.type !== type) base = undefined;
  const fromEnv = Object.entries(store.envDefaults ?? {}).flatMap(([field, name]) => (env[name] === undefined ? [] : [[field, env[name]] as const]));
  const fromFlags = Object.entries(store.flags).flatMap(([field, flag]) => (given(flag) === undefined ? [] : [[field, given(flag)] as const]));
  return { ...(base ?? { type, ...Object.fromEntries(fromEnv) }), ...Object.fromEntries(fromFlags) } as StoreConfigInput;
}

/** A started store for the CLI. It never migrates on open; for queries it is read-only and creates nothing. */
export async function openStore(flags: StoreFlags, opts: { forQuery: boolean }): Promise<AuditSink> {
  const cfg = storeConfigFromFlags(flags);
  const store = componentFor(stores, cfg.type);
  const settings = opts.forQuery ? store.forQuery(cfg) : { ...cfg, migrate: false };
  const sink = createStore(settings as StoreConfigInput, { logger: silentLogger, metrics: noopMetrics });
  await sink.start();
  return sink;
}
