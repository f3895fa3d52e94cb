/** DuckDB as a worker component: `sinks: duckdb`, the embedded default store for `migrate` and `query`. */
import { errorMessage } from "../../src/errors.js";
import type { StoreComponent } from "../sink-common/store-component.js";
import { duckdbSinkConfigSchema } from "./config.js";
import { DuckDbSink } from "./sink.js";

export const duckdbStore: StoreComponent<typeof duckdbSinkConfigSchema> = {
  type: "duckdb",
  schema: duckdbSinkConfigSchema,
  title: "sinks: duckdb",
  declaredIn: "connectors/duckdb/config.ts",
  example: `sinks:
  - type: duckdb
    path: ./reagent-stream.duckdb`,
  describe: (c) => `duckdb ${c.path}`,
  create: (c, deps) =>
    new DuckDbSink(c, {
      metrics: deps.metrics,
      onRetry: ({ attempt, waitMs, error }) => deps.logger.warn({ sink: "duckdb", attempt, wait_ms: waitMs, err: errorMessage(error) }, "sink batch failed; retrying"),
    }),
  flags: { path: "--file", table_prefix: "--table-prefix" },
  // A query never creates a store: a missing file is an error rather than a new empty one.
  forQuery: (c) => ({ ...c, migrate: false, read_only: true }),
};
