/**
 * The `reagent-stream` command line. Each command lives in src/cli/commands/<name>.ts and
 * registers itself on the program here. Every user mistake is ONE line on stderr with exit
 * code 2: typed errors as "what: why", argument errors as commander words them plus where the
 * usage is, files and ports the system refused (ENOENT, EACCES, EADDRINUSE, …) with the path.
 * Only a bug prints more (its stack, with REAGENT_DEBUG=1) and exits 1. A closed stdout pipe
 * (`… | head`) ends the command quietly.
 */
import { Command, CommanderError } from "commander";
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
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(`reagent-stream: ${str.trim().replace(/\n+/g, " ")} (see --help)\n`) });
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

/** What the system said about a file or port, as the one line a user needs. */
function systemErrorLine(err: NodeJS.ErrnoException): string | undefined {
  const where = err.path ?? (err as { address?: string; port?: number }).port?.toString();
  switch (err.code) {
    case "ENOENT":
      return `${where ?? "a file"}: no such file or directory; check the path`;
    case "EACCES":
    case "EPERM":
      return `${where ?? "a file"}: permission denied; choose a path (or port) you may use`;
    case "EISDIR":
      return `${where ?? "a path"} is a directory; give a file`;
    case "ENOTDIR":
      return `${where ?? "a path"}: a part of it is not a directory; check the path`;
    case "EADDRINUSE":
      return `port ${where ?? "?"} is already in use; stop what listens there or choose another --port`;
    case "EADDRNOTAVAIL":
      return `cannot listen on that address; use --host 127.0.0.1 or 0.0.0.0`;
    case "ENOSPC":
      return `${where ?? "the disk"}: no space left on the device`;
    default:
      return undefined;
  }
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  // `reagent-stream config schema | head`: the reader went away; that is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
  });
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one line (or the help / version it was asked for).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof ReagentError) {
      process.stderr.write(`reagent-stream: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    const sys = err instanceof Error ? systemErrorLine(err) : undefined;
    if (sys !== undefined) {
      process.stderr.write(`reagent-stream: ${sys}\n`);
      process.exitCode = 2;
      return;
    }
    const debug = process.env.REAGENT_DEBUG === "1";
    process.stderr.write(
      `reagent-stream: unexpected error (a bug; please report it): ${errorMessage(err).split("\n")[0] ?? ""}${debug && err instanceof Error && err.stack ? `\n${err.stack}` : " (REAGENT_DEBUG=1 shows the stack)"}\n`,
    );
    process.exitCode = 1;
  }
}

await main();
