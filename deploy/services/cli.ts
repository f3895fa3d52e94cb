/**
 * node --import tsx deploy/services/cli.ts up|down|status [kafka|clickhouse ...] [options]
 *
 *   up      install what is missing, start what is not running, wait until all answer
 *   down    stop what `up` started from this checkout (SIGTERM, then SIGKILL)
 *   status  health, version and ports of each service; exits 1 if any is unhealthy
 *
 * Options: --timeout SECONDS (up: readiness deadline), --started-file FILE (up: write the
 * names of the services this call started, one a line, for a caller that stops them later),
 * --wipe (down: also delete .services/<name>/, i.e. data, logs and generated configs).
 */
import fs from "node:fs";
import { ServiceError, describeCause, errorMessage, isReagentError } from "../../src/errors.js";
import type { ServiceName } from "./config.js";
import { SERVICE_NAMES, loadServicesConfig } from "./config.js";
import type { PortInfo } from "./driver.js";
import { servicesDown, servicesStatus, servicesUp } from "./index.js";

const USAGE = `usage: services up|down|status [${SERVICE_NAMES.join("|")} ...] [--timeout SECONDS] [--started-file FILE] [--wipe]`;

interface Args {
  command: "up" | "down" | "status";
  services: ServiceName[] | undefined;
  timeoutMs: number | undefined;
  startedFile: string | undefined;
  wipe: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== "up" && command !== "down" && command !== "status") throw new UsageError(`unknown command "${command ?? ""}"`);
  const services: ServiceName[] = [];
  let timeoutMs: number | undefined;
  let startedFile: string | undefined;
  let wipe = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--timeout") {
      const v = Number(rest[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new UsageError("--timeout needs a positive number of seconds");
      timeoutMs = Math.round(v * 1000);
    } else if (a === "--started-file") {
      startedFile = rest[++i];
      if (startedFile === undefined) throw new UsageError("--started-file needs a path");
    } else if (a === "--wipe" && command === "down") {
      wipe = true;
    } else if ((SERVICE_NAMES as readonly string[]).includes(a)) {
      services.push(a as ServiceName);
    } else {
      throw new UsageError(`unknown argument "${a}"`);
    }
  }
  return { command, services: services.length === 0 ? undefined : services, timeoutMs, startedFile, wipe };
}

function ports(host: string, list: readonly PortInfo[]): string {
  return list.map((p) => `${p.label} ${host}:${p.port}`).join(", ");
}

const TITLES: Record<ServiceName, string> = { kafka: "Kafka", clickhouse: "ClickHouse" };

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    console.error(`${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  const host = loadServicesConfig().host;
  const log = (line: string): void => console.log(line);

  if (args.command === "up") {
    const r = await servicesUp({ services: args.services, timeoutMs: args.timeoutMs, log });
    if (args.startedFile !== undefined) fs.writeFileSync(args.startedFile, r.started.map((s) => `${s}\n`).join(""));
    for (const s of r.services) {
      const how = s.state === "started" ? `started, ready in ${s.readySeconds.toFixed(1)} s` : "already running";
      console.log(`${s.name}: ${how} — ${TITLES[s.name]} ${s.version ?? "?"}, pid ${s.pid}, ${ports(host, s.ports)}`);
    }
    console.log(`endpoints: kafka brokers ${r.endpoints.kafkaBrokers.join(",")}, clickhouse ${r.endpoints.clickhouseUrl}`);
    return 0;
  }
  if (args.command === "down") {
    const r = await servicesDown({ services: args.services, wipe: args.wipe, log });
    for (const s of r) {
      const text = {
        stopped: `stopped (pid ${s.pid})`,
        killed: `killed after the grace period (pid ${s.pid})`,
        "not-running": "not running",
        "stale-pid-file": `was not running (removed stale pid file for pid ${s.pid})`,
      }[s.state];
      console.log(`${s.name}: ${text}`);
    }
    return 0;
  }
  const r = await servicesStatus({ services: args.services });
  for (const s of r) {
    console.log(
      `${s.name}: ${s.healthy ? "healthy" : "UNHEALTHY"} — ${TITLES[s.name]} ${s.version ?? "?"}, ${s.pid === undefined ? "no pid" : `pid ${s.pid}`}, ${ports(host, s.ports)} — ${s.detail}`,
    );
  }
  return r.every((s) => s.healthy) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (isReagentError(err)) {
      const svc = err instanceof ServiceError ? err.service : undefined;
      console.error(`error [${err.code}]${svc === undefined ? "" : ` ${svc}`}: ${err.what}: ${err.why}`);
      const cause = describeCause(err.cause);
      if (cause !== undefined) console.error(`  cause: ${cause}`);
    } else {
      console.error(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    process.exit(1);
  },
);
