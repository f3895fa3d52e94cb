/**
 * Global setup of the `integration` vitest project: brings the real Kafka and ClickHouse up
 * (idempotent: services already running are reused) and, in teardown, stops only the services
 * this setup started, so a developer's running services stay up.
 *
 * Tests get the endpoints with `testEndpoints()` from ./services.ts (vitest `provide`/`inject`,
 * mirrored in REAGENT_TEST_KAFKA_BROKERS and REAGENT_TEST_CLICKHOUSE_URL).
 * REAGENT_KEEP_SERVICES=1 leaves started services running after the tests.
 */
import type { TestProject } from "vitest/node";
import { servicesDown, servicesUp } from "../../deploy/services/index.js";
import type { ServiceName } from "../../deploy/services/index.js";

const log = (line: string): void => console.log(`[services] ${line}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now();
  const up = await servicesUp({ log });
  log(`up in ${((Date.now() - began) / 1000).toFixed(1)} s: ${up.services.map((s) => `${s.name} ${s.version ?? "?"} (${s.state})`).join(", ")}`);

  process.env.REAGENT_TEST_KAFKA_BROKERS = up.endpoints.kafkaBrokers.join(",");
  process.env.REAGENT_TEST_CLICKHOUSE_URL = up.endpoints.clickhouseUrl;
  project.provide("reagentServices", up.endpoints);

  const started: ServiceName[] = up.started;
  return async () => {
    if (started.length === 0) return;
    if (process.env.REAGENT_KEEP_SERVICES === "1") {
      log(`leaving ${started.join(", ")} running (REAGENT_KEEP_SERVICES=1); stop with npm run services:down`);
      return;
    }
    const down = await servicesDown({ services: started, log });
    log(`stopped: ${down.map((d) => `${d.name} (${d.state})`).join(", ")}`);
  };
}
