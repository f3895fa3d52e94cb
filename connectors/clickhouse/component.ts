/** ClickHouse as a worker component: `sinks: clickhouse`, also a store for `migrate` and `query`. */
import { errorMessage } from "../../src/errors.js";
import { redactUrl } from "../../src/redact.js";
import type { StoreComponent } from "../sink-common/store-component.js";
import { clickhouseSinkConfigSchema } from "./config.js";
import { ClickHouseSink } from "./sink.js";

export const clickhouseStore: StoreComponent<typeof clickhouseSinkConfigSchema> = {
  type: "clickhouse",
  schema: clickhouseSinkConfigSchema,
  title: "sinks: clickhouse",
  declaredIn: "connectors/clickhouse/config.ts",
  example: `sinks:
  - type: clickhouse
    url: http://clickhouse:8123
    database: llm_audit
    password_env: CLICKHOUSE_PASSWORD`,
  // Credentials in the URL never reach `config check` output.
  describe: (c) => `clickhouse ${redactUrl(c.url)} ${c.database}`,
  create: (c, deps) =>
    new ClickHouseSink(c, {
      metrics: deps.metrics,
      onRetry: ({ attempt, waitMs, error }) => deps.logger.warn({ sink: "clickhouse", attempt, wait_ms: waitMs, err: errorMessage(error) }, "sink batch failed; retrying"),
    }),
  flags: { url: "--url", database: "--database", username: "--username", password_env: "--password-env", table_prefix: "--table-prefix" },
  envDefaults: { url: "REAGENT_CLICKHOUSE_URL" },
  forQuery: (c) => ({ ...c, migrate: false, create_database: false }),
};
