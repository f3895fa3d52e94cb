/**
 * The layer rule (eslint/layer-order.js) on sample imports: downward and sideways pass, upward
 * fails naming both layers; folders outside the house are free.
 */
import { resolve } from "node:path";
import { RuleTester } from "eslint";
import tseslint from "typescript-eslint";
import { describe, it } from "vitest";
import layers from "../../../eslint/layer-order.js";

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const root = resolve(import.meta.dirname, "../../..");
const at = (rel: string): string => resolve(root, rel);
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: "module" } });
const rule = layers.rules.order;
const options = [{ root }];

tester.run("layers/order", rule, {
  valid: [
    { filename: at("src/cli/commands/run.ts"), code: 'import { buildWorker } from "../../app/worker.js";', options },
    { filename: at("src/app/worker.ts"), code: 'import { KafkaSource } from "../../connectors/kafka/source.js";', options },
    { filename: at("connectors/kafka/source.ts"), code: 'import type { Source } from "../../src/pipeline/contracts.js";', options },
    { filename: at("src/attribution/engine.ts"), code: 'import { chatRoles } from "../../schemas/llm-log-record.js";', options },
    { filename: at("src/pipeline/attributor.ts"), code: 'import type { AttributionEngine } from "../attribution/engine.js";', options },
    { filename: at("schemas/attribution-result.ts"), code: 'import { ConfigError } from "../src/errors.js";', options },
    { filename: at("test/unit/x.test.ts"), code: 'import { main } from "../../src/cli/main.js";', options },
    { filename: at("src/app/config.ts"), code: 'import { z } from "zod";', options },
  ],
  invalid: [
    { filename: at("schemas/queries/pack.ts"), code: 'import { coerceParam } from "../../connectors/sink-common/sql-params.js";', options, errors: [{ messageId: "upward" }] },
    { filename: at("src/attribution/engine.ts"), code: 'import { loadLocalModel } from "../models/local-model.js";', options, errors: [{ messageId: "upward" }] },
    { filename: at("connectors/kafka/source.ts"), code: 'export { buildWorker } from "../../src/app/worker.js";', options, errors: [{ messageId: "upward" }] },
    { filename: at("src/app/worker.ts"), code: 'const m = await import("../cli/main.js");', options, errors: [{ messageId: "upward" }] },
    { filename: at("src/text/segments.ts"), code: 'export * from "../pipeline/contracts.js";', options, errors: [{ messageId: "upward" }] },
  ],
});
