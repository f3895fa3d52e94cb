/**
 * `reagent-stream run --config <file.yaml>`: one stateless worker, built by src/app/worker.ts. It
 * runs until the input ends (file, stdin) or a signal arrives (SIGTERM/SIGINT: drain for
 * pipeline.drain_timeout_ms, commit, exit; a second signal abandons work in flight), and prints a
 * summary on stderr. Scale out by starting more workers with the same Kafka group.
 *
 * @see docs/pipeline.md
 */
import type { Command } from "commander";
import { loadWorkerConfig } from "../../app/config.js";
import { buildWorker, compactStats, createLogger, type Worker } from "../../app/worker.js";
import { StatusLineStream, logDestination, logFormatFrom } from "../terminal-output.js";
import type { RunSummary } from "../../pipeline/worker.js";

export function formatSummary(s: RunSummary): string {
  const st = s.stats;
  const dl = Object.values(st.deadLettered).reduce((a, b) => a + b, 0);
  const secs = s.durationMs / 1000;
  const lines = [
    `reagent-stream: ${s.reason === "end_of_input" ? "input done" : s.reason === "stopped" ? "stopped" : "source failed"} after ${secs.toFixed(1)} s`,
    `  records ${st.consumed} (${secs > 0 ? Math.round(st.consumed / secs) : st.consumed}/s), parsed ${st.parsed}, dead-lettered ${dl}${dl > 0 ? ` ${JSON.stringify(st.deadLettered)}` : ""}`,
    `  sampled ${st.decisions.sampled}, skipped ${st.decisions.skipped} ${JSON.stringify(st.decisions.byReason)}`,
    `  attributed ${st.attributed}${st.attributed > 0 ? ` (mean ${(st.attributionMs.total / st.attributed / 1000).toFixed(2)} s, max ${(st.attributionMs.max / 1000).toFixed(2)} s)` : ""}, failed attribution attempts ${Object.entries(st.failed).reduce((a, [k, n]) => (k.startsWith("attribute:") ? a + n : a), 0)}`,
  ];
  if (s.abandoned > 0) {
    lines.push(
      s.redelivers
        ? `  ${s.abandoned} records unfinished at shutdown: left uncommitted, they will be redelivered`
        : `  ${s.abandoned} records unfinished at shutdown: left uncommitted; stdin cannot deliver them again, so rerun with the same input (a checkpoint skips the committed lines)`,
    );
  }
  return lines.join("\n");
}

/**
 * Runs a worker with SIGTERM/SIGINT handling; resolves with the summary. First signal: drain (it
 * ends as soon as nothing is in flight, at the latest after pipeline.drain_timeout_ms). Second:
 * abandon what is in flight, commit what is done, close quickly. Third: exit at once.
 */
export async function runWorker(worker: Worker): Promise<RunSummary> {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals >= 3) {
      worker.logger.warn({ signal: sig }, "third signal: exiting now");
      process.exit(130);
    }
    worker.logger.info({ signal: sig, drain_timeout_ms: worker.config.pipeline.drain_timeout_ms }, signals === 1 ? "stopping: draining work in flight" : "second signal: abandoning work in flight, committing what is done");
    worker.pipeline.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    return await worker.run();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

/**
 * Everything is committed and closed: the process should end now. A client library that still
 * holds a timer or socket (kafkajs reconnecting to a broker that went away) must not keep it
 * alive, so exit after a moment if it has not ended on its own (the timer does not hold it).
 */
function exitSoon(worker: Worker): void {
  setTimeout(() => {
    worker.logger.warn({}, "handles still open after shutdown; exiting");
    process.exit(process.exitCode ?? 0);
  }, 500).unref();
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("Run a worker: source -> map -> sample -> attribute -> sinks, until the input ends or SIGTERM/SIGINT")
    .requiredOption("-c, --config <file>", "worker config (YAML); check it with `reagent-stream config check <file>`")
    .option("--summary <format>", "summary on stderr at the end: text, json or none", "text")
    .option("--log-format <format>", "logs on stderr: json, text, or auto (json unless stderr is a terminal); default REAGENT_LOG_FORMAT, else auto")
    .action(async (flags: { config: string; summary: string; logFormat?: string }) => {
      const format = logFormatFrom(flags.logFormat);
      const cfg = loadWorkerConfig(flags.config);
      // Logs and the progress bar share stderr through one stream, so they never share a line.
      const term = new StatusLineStream(process.stderr);
      const worker = await buildWorker(cfg, { logger: createLogger(cfg.logging.level, logDestination(format, term)), progressStream: term });
      const summary = await runWorker(worker);
      if (flags.summary === "json") process.stderr.write(`${JSON.stringify({ ...summary, stats: compactStats(summary.stats) })}\n`);
      else if (flags.summary !== "none") process.stderr.write(`${formatSummary(summary)}\n`);
      exitSoon(worker);
    });
}
