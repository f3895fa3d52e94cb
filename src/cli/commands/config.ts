/**
 * `reagent-stream config check|docs|schema`: validate, describe and document worker config files.
 * The config itself (root schema, loading, warnings, generated docs) lives in src/app/config.ts.
 *
 * @see docs/config.md
 */
import type { Command } from "commander";
import { configWarnings, describeConfig, loadWorkerConfig, missingConfigInputs, workerConfigJsonSchema, writeGeneratedFiles, type WorkerConfig } from "../../app/config.js";
import { ConfigError } from "../../errors.js";
import { PACKAGE_ROOT } from "../../package-root.js";

export function registerConfig(program: Command): void {
  const cmd = program.command("config").description("Validate and describe worker config files");
  cmd
    .command("check")
    .description("Validate a worker config (YAML) without running it: exits 2 naming each bad field and each input file or directory that does not exist")
    .argument("<file>", "config file")
    .option("--quiet", "print nothing when it is valid")
    .action((file: string, flags: { quiet?: boolean }) => {
      let cfg: WorkerConfig;
      try {
        cfg = loadWorkerConfig(file);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`reagent-stream: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      const missing = missingConfigInputs(cfg);
      if (missing.length > 0) {
        for (const line of missing) process.stderr.write(`reagent-stream: ${file}: ${line}\n`);
        process.stderr.write(`reagent-stream: ${file}: ${missing.length} missing input${missing.length === 1 ? "" : "s"} (relative paths resolve against the config file's directory)\n`);
        process.exitCode = 2;
        return;
      }
      if (!flags.quiet) process.stdout.write(`${file}: valid\n${describeConfig(cfg)}\n`);
      for (const line of configWarnings(cfg)) process.stderr.write(`warning: ${line}\n`);
    });
  cmd
    .command("docs")
    .description("Regenerate docs/config.md, schemas/config.schema.json and schemas/llm-log-record.schema.json from the component schemas")
    .option("--check", "only report stale files (exit 1)")
    .option("--root <dir>", "repository root", PACKAGE_ROOT)
    .action((flags: { check?: boolean; root: string }) => {
      const stale = writeGeneratedFiles(flags.root, flags.check === true);
      for (const f of stale) process.stdout.write(`${flags.check ? "stale" : "wrote"}: ${f}\n`);
      if (flags.check && stale.length > 0) process.exitCode = 1;
    });
  cmd
    .command("schema")
    .description("Print the JSON Schema of the worker config")
    .action(() => {
      process.stdout.write(`${JSON.stringify(workerConfigJsonSchema(), null, 2)}\n`);
    });
}

