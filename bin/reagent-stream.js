#!/usr/bin/env node
// In a checkout with dev dependencies (npm ci) the CLI runs its TypeScript source through tsx, so
// an edit needs no build step. Without them (npm ci --omit=dev, a packed tarball) it runs the
// built output, dist/ (npm run build; npm pack builds it first). tsx is a dev dependency only.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const built = new URL("../dist/src/cli/main.js", import.meta.url);

async function withTsx() {
  if (process.env.REAGENT_CLI_BUILT === "1" || !existsSync(source)) return false;
  try {
    const { register } = await import("tsx/esm/api");
    register();
    return true;
  } catch {
    return false;
  }
}

if (await withTsx()) {
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write("reagent-stream: no built CLI (dist/) and no tsx to run the source: run `npm run build`, or `npm ci` for the dev dependencies\n");
  process.exitCode = 1;
}
