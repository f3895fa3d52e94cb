/**
 * A results store (ClickHouse, DuckDB) as a component: a sink that `migrate` and `query` can
 * also open. Besides the sink's schema, docs and constructor it names the flags those commands
 * offer for its settings; their help text and defaults come from the schema. Its schema spreads
 * `commonSinkFields` (sink-common/config.ts): `migrate` and `query` set `migrate` on it.
 */
import type { z } from "zod";
import type { SinkComponent } from "../../src/pipeline/components.js";
import type { AuditSink } from "./audit-sink.js";

export interface StoreComponent<S extends z.ZodType = z.ZodType> extends SinkComponent<S, AuditSink> {
  /** `migrate`/`query` flags that set this store's settings: field -> flag (`password_env` -> `--password-env`). */
  readonly flags: Readonly<Record<string, string>>;
  /** Environment variables that give a setting when neither `--config` nor a flag does: field -> variable. */
  readonly envDefaults?: Readonly<Record<string, string>>;
  /** The settings a `query` session uses: read-only, creating nothing. */
  forQuery(cfg: z.input<S>): z.input<S>;
}
