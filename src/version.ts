import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package version, recorded in every result as `engine_version`. */
export const ENGINE_VERSION: string = (
  JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string }
).version;
