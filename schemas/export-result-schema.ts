/**
 * Writes schemas/attribution-result.schema.json from the zod result schema (the one source).
 *   node --import tsx schemas/export-result-schema.ts
 * A unit test fails when the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { attributionResultSchema } from "./attribution-result.js";

export const RESULT_JSON_SCHEMA_PATH = fileURLToPath(new URL("./attribution-result.schema.json", import.meta.url));

export function resultJsonSchema(): string {
  const schema = z.toJSONSchema(attributionResultSchema, { io: "output", target: "draft-2020-12" });
  return `${JSON.stringify({ $id: "https://reagent-stream.dev/schemas/attribution-result.schema.json", title: "AttributionResult", ...schema }, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(RESULT_JSON_SCHEMA_PATH, resultJsonSchema());
  console.log(`wrote ${RESULT_JSON_SCHEMA_PATH}`);
}
