/**
 * The `reagent-stream` command line. Each command lives in src/cli/commands/<name>.ts and
 * registers itself on the program here; typed errors print as "what: why" with exit code 2.
 */
import { Command } from "commander";
import { ReagentError, errorMessage } from "../errors.js";
import { ENGINE_VERSION } from "../version.js";
import { registerAttribute } from "./commands/attribute.js";
import { registerConfig } from "./commands/config.js";
import { registerDemo } from "./commands/demo.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerQuery } from "./commands/query.js";
import { registerReport } from "./commands/report.js";
import { registerRun } from "./commands/run.js";
import { registerServeModel } from "./commands/serve-model.js";
import { registerUi } from "./commands/ui.js";

export function buildProgram(): Command {
  const program = new Command("reagent-stream")
    .description("Counterfactual token attribution (ReAGent) for production LLM logs")
    .version(ENGINE_VERSION)
    .showHelpAfterError();
  registerAttribute(program);
  registerConfig(program);
  registerDemo(program);
  registerMigrate(program);
  registerQuery(program);
  registerReport(program);
  registerRun(program);
  registerServeModel(program);
  registerUi(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof ReagentError) {
      process.stderr.write(`reagent-stream: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`reagent-stream: unexpected error: ${errorMessage(err)}\n${err instanceof Error && err.stack ? err.stack : ""}\n`);
    process.exitCode = 1;
  }
}

await main();
