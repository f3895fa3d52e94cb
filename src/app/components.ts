/**
 * The component registry: every source, sink and dead-letter route a worker config can name,
 * one line each. Each component lives in its own folder with its schema, docs and constructor
 * (connectors/<system>/component.ts); the root config schema, docs/config.md, `config check`,
 * buildWorker and the `migrate`/`query` store flags are all built from these lists.
 *
 * Adding a store: a folder connectors/<store>/ with its config, sink and component.ts, and one
 * line in STORES.
 */
import { z } from "zod";
import { clickhouseStore } from "../../connectors/clickhouse/component.js";
import { duckdbStore } from "../../connectors/duckdb/component.js";
import { fileSource, jsonlDeadLetters, jsonlSink } from "../../connectors/file/component.js";
import { kafkaDeadLetters, kafkaSource } from "../../connectors/kafka/component.js";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import type { StoreComponent } from "../../connectors/sink-common/store-component.js";
import { stdinSource } from "../../connectors/stdin/component.js";
import { parseConfig } from "../config-issues.js";
import { ConfigError } from "../errors.js";
import type { Component } from "../pipeline/components.js";

export const SOURCES = [kafkaSource, fileSource, stdinSource] as const;
/** Stores are sinks that `migrate` and `query` can open too; the first is their default. */
export const STORES = [duckdbStore, clickhouseStore] as const;
export const SINKS = [...STORES, jsonlSink] as const;
export const DEAD_LETTERS = [kafkaDeadLetters, jsonlDeadLetters] as const;

type AnyComponent = Component<z.ZodType, never, unknown>;
type SchemasOf<T extends readonly AnyComponent[]> = { -readonly [K in keyof T]: T[K]["schema"] };

/** The `type`-discriminated union of the components' schemas (typed per component). */
export function unionOf<const T extends readonly [AnyComponent, ...AnyComponent[]]>(components: T) {
  const schemas = components.map((c) => c.schema) as unknown as SchemasOf<T>;
  return z.discriminatedUnion("type", schemas as unknown as Parameters<typeof z.discriminatedUnion>[1]) as unknown as z.ZodDiscriminatedUnion<SchemasOf<T>>;
}

/** The registered component for a validated section (its `type` picks it). */
export function componentFor<T extends readonly { readonly type: string }[]>(list: T, type: string): T[number] {
  const c = list.find((x) => x.type === type);
  if (c === undefined) {
    throw new ConfigError({ what: `finding the ${type} component`, why: `none is registered (known: ${list.map((x) => x.type).join(", ")})`, path: "type" });
  }
  return c;
}

/** Builds a validated section with its component; `deps` are what that role's constructors get. */
export function createComponent<D, B>(list: readonly Component<z.ZodType, D, B>[], cfg: { readonly type: string }, deps: D): B {
  return componentFor(list, cfg.type).create(cfg, deps);
}

/** One line for `config check`. */
export function describeComponent(list: readonly Component<z.ZodType, never, unknown>[], cfg: { readonly type: string }): string {
  return componentFor(list, cfg.type).describe(cfg);
}

export type StoreType = (typeof STORES)[number]["type"];
export const storeTypes = STORES.map((s) => s.type) as [StoreType, ...StoreType[]];
export const storeConfigSchema = unionOf(STORES);
export type StoreConfig = z.output<typeof storeConfigSchema>;
export type StoreConfigInput = z.input<typeof storeConfigSchema>;

/** A results store for a validated (or raw) store config; call `start()` next. */
export function createStore(config: StoreConfigInput | StoreConfig, deps: Parameters<StoreComponent["create"]>[1]): AuditSink {
  const cfg = parseConfig(storeConfigSchema, config, { what: "reading the sink settings", path: "sink" });
  return (componentFor(STORES, cfg.type) as StoreComponent).create(cfg, deps);
}
