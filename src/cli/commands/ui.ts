/**
 * `reagent-stream ui`: browse stored attributions in a local web app (list and filter, open a
 * report, follow the trace link). Stops on SIGINT/SIGTERM.
 *
 *   reagent-stream ui --file demo-output/reagent-stream.duckdb
 *   reagent-stream ui --store clickhouse --url http://ch:8123 --database llm_audit --trace-url 'http://phoenix:6006/redirects/traces/{trace_id}'
 */
import { InvalidArgumentError, type Command } from "commander";
import { startUi } from "../../app/ui/server.js";
import { ConfigError, errorMessage } from "../../errors.js";
import { addStoreOptions, openStore, type StoreFlags } from "../store-options.js";

interface UiFlags extends StoreFlags {
  host: string;
  port: number;
  traceUrl?: string;
}

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError("a port number 0-65535 (0: any free port)");
  return n;
}

export function registerUi(program: Command): void {
  const cmd = program
    .command("ui")
    .description("Browse stored attributions in a local web app: filter by model, tenant, time, convergence, faithfulness; open a report; follow the trace link")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", portArg, 8787)
    .option("--trace-url <template>", "link trace ids, e.g. http://phoenix:6006/redirects/traces/{trace_id}");
  addStoreOptions(cmd);
  cmd.action(async (flags: UiFlags) => {
    const store = await openStore(flags, { forQuery: true });
    let ui;
    try {
      ui = await startUi({ store, host: flags.host, port: flags.port, ...(flags.traceUrl === undefined ? {} : { traceUrl: flags.traceUrl }) });
    } catch (err) {
      await store.close();
      throw new ConfigError({ what: `listening on ${flags.host}:${flags.port}`, why: `${errorMessage(err)}; choose another --port`, path: "--port", cause: err });
    }
    process.stderr.write(`reagent-stream ui: ${ui.url}  (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await ui.close();
    await store.close();
  });
}
