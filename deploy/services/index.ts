/**
 * Programmatic API of the local test services (Kafka, ClickHouse).
 *
 *   const { started } = await servicesUp({ log: console.log });   // idempotent
 *   serviceEndpoints();  // { kafkaBrokers: ["127.0.0.1:19092"], clickhouseUrl: "http://127.0.0.1:18123" }
 *   await servicesDown({ services: started });
 *
 * `down` only ever signals processes whose pid file `up` wrote and whose command line is
 * that service as started from this checkout. docs/services.md has the details.
 */
import fs from "node:fs";
import path from "node:path";
import { ServiceError, errorMessage } from "../../src/errors.js";
import { ClickHouseDriver } from "./clickhouse.js";
import type { ServiceEndpoints, ServiceName, ServicesConfig } from "./config.js";
import { SERVICE_NAMES, endpointsOf, loadServicesConfig } from "./config.js";
import type { Logger, PortInfo, ServiceDriver } from "./driver.js";
import { KafkaDriver } from "./kafka.js";
import { cmdlineOf, fileSize, isAlive, portInUse, portOwner, readPidFile, removeFile, sleep, spawnDetached, stopProcess, tailFile, writePidFile } from "./proc.js";

export type { ServiceEndpoints, ServiceName, ServicesConfig } from "./config.js";
export { ENV, DEFAULTS, SERVICE_NAMES, loadServicesConfig, serviceEndpoints } from "./config.js";

export interface ServicesOptions {
  /** Which services (default: all). */
  services?: readonly ServiceName[];
  /** Environment to read ports and paths from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines (default: none). */
  log?: Logger;
}

export interface UpOptions extends ServicesOptions {
  /** Readiness deadline; default REAGENT_SERVICES_TIMEOUT_S or 120 s. */
  timeoutMs?: number;
}

export interface ServiceUpResult {
  name: ServiceName;
  state: "started" | "already-running";
  pid: number;
  version: string | undefined;
  ports: readonly PortInfo[];
  /** Seconds from start (or from the call, when already running) until it answered. */
  readySeconds: number;
}

export interface UpResult {
  endpoints: ServiceEndpoints;
  services: ServiceUpResult[];
  /** The services this call started (the ones a caller should stop again). */
  started: ServiceName[];
}

export interface ServiceDownResult {
  name: ServiceName;
  state: "stopped" | "killed" | "not-running" | "stale-pid-file";
  pid: number | undefined;
}

export interface ServiceStatus {
  name: ServiceName;
  healthy: boolean;
  pid: number | undefined;
  version: string | undefined;
  ports: readonly PortInfo[];
  detail: string;
}

function drivers(cfg: ServicesConfig, names: readonly ServiceName[] | undefined): ServiceDriver[] {
  const all: ServiceDriver[] = [new KafkaDriver(cfg), new ClickHouseDriver(cfg)];
  const wanted = names ?? SERVICE_NAMES;
  for (const n of wanted) {
    if (!SERVICE_NAMES.includes(n)) {
      throw new ServiceError({ service: String(n), what: "selecting services", why: `unknown service "${String(n)}"; valid: ${SERVICE_NAMES.join(", ")}` });
    }
  }
  return all.filter((d) => wanted.includes(d.name));
}

/** The pid of this service as started from this checkout, if it is running. */
function runningPid(d: ServiceDriver): number | undefined {
  const pid = readPidFile(d.pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  return d.owns(cmdlineOf(pid)) ? pid : undefined;
}

/** Sizes of a service's logs, so that error messages show only what this start wrote. */
function logOffsets(d: ServiceDriver): Map<string, number> {
  return new Map(d.logFiles().map((f) => [f, fileSize(f)]));
}

function logTail(d: ServiceDriver, cfg: ServicesConfig, offsets: ReadonlyMap<string, number> = new Map()): string {
  const parts: string[] = [];
  for (const file of d.logFiles()) {
    const tail = tailFile(file, 30, offsets.get(file) ?? 0);
    if (tail !== "") parts.push(`--- last lines of ${path.relative(cfg.repoRoot, file)} ---\n${tail}`);
    if (parts.length === 2) break;
  }
  const where = d.logFiles().map((f) => path.relative(cfg.repoRoot, f)).join(", ");
  return parts.length === 0 ? `(nothing new in ${where})` : parts.join("\n");
}

async function checkPortsFree(d: ServiceDriver, cfg: ServicesConfig): Promise<void> {
  for (const p of d.ports) {
    if (await portInUse(p.port, cfg.host)) {
      const owner = await portOwner(p.port);
      throw new ServiceError({
        service: d.name,
        what: `starting ${d.title}`,
        why: `port ${p.port} (${d.title} ${p.label}) on ${cfg.host} is already in use by someone else${owner === "" ? "" : `: ${owner}`}; stop that process, or choose free ports (docs/services.md lists the REAGENT_*_PORT variables)`,
        details: { port: p.port, owner },
      });
    }
  }
}

/** Installs what is missing, starts what is not running, and waits until every service answers. */
export async function servicesUp(opts: UpOptions = {}): Promise<UpResult> {
  const cfg = loadServicesConfig(opts.env);
  const log = opts.log ?? ((): void => undefined);
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs;
  const list = drivers(cfg, opts.services);

  interface Pending {
    d: ServiceDriver;
    pid: number;
    state: ServiceUpResult["state"];
    since: number;
    offsets: Map<string, number>;
  }
  const pending: Pending[] = [];
  const startedHere: Pending[] = [];

  const undo = async (): Promise<void> => {
    for (const p of startedHere) {
      log(`${p.d.name}: stopping it again (pid ${p.pid})`);
      await stopProcess(p.pid, 30_000);
      removeFile(p.d.pidFile);
    }
  };

  try {
    const toStart: ServiceDriver[] = [];
    for (const d of list) {
      const pid = runningPid(d);
      if (pid !== undefined) {
        if (!d.configMatches()) {
          throw new ServiceError({
            service: d.name,
            what: `starting ${d.title}`,
            why: `it is already running (pid ${pid}) with other ports or paths than this environment asks for (${d.ports.map((p) => `${p.label} ${p.port}`).join(", ")}); stop it first with npm run services:down`,
            details: { pid },
          });
        }
        log(`${d.name}: already running (pid ${pid})`);
        pending.push({ d, pid, state: "already-running", since: Date.now(), offsets: new Map() });
        continue;
      }
      if (fs.existsSync(d.pidFile)) {
        log(`${d.name}: removing stale pid file ${path.relative(cfg.repoRoot, d.pidFile)}`);
        removeFile(d.pidFile);
      }
      await checkPortsFree(d, cfg);
      toStart.push(d);
    }
    for (const d of toStart) await d.install(log);
    for (const d of toStart) {
      const offsets = logOffsets(d);
      const spec = await d.prepare(log);
      let pid: number;
      try {
        pid = await spawnDetached(spec.cmd, spec.args, { cwd: d.dir, logFile: spec.consoleLog, env: spec.env });
      } catch (err) {
        throw new ServiceError({ service: d.name, what: `starting ${d.title}`, why: `${spec.cmd} could not be started: ${errorMessage(err)}`, cause: err });
      }
      writePidFile(d.pidFile, pid);
      const p: Pending = { d, pid, state: "started", since: Date.now(), offsets };
      startedHere.push(p);
      pending.push(p);
      log(`${d.name}: started (pid ${pid}); waiting up to ${Math.round(timeoutMs / 1000)} s for it to answer`);
    }

    // Each service gets the full timeout from its own start (installs on a fresh machine take a while).
    const settled = await Promise.allSettled(pending.map((p) => waitReady(p.d, p.pid, p.since + timeoutMs, cfg, p.offsets)));
    const failures: ServiceError[] = [];
    const results: ServiceUpResult[] = [];
    settled.forEach((s, i) => {
      const p = pending[i]!;
      if (s.status === "rejected") {
        failures.push(s.reason instanceof ServiceError ? s.reason : new ServiceError({ service: p.d.name, what: `waiting for ${p.d.title}`, why: errorMessage(s.reason), cause: s.reason }));
        return;
      }
      const readySeconds = (Date.now() - p.since) / 1000;
      log(`${p.d.name}: ready (${p.d.title} ${s.value ?? "?"})`);
      results.push({ name: p.d.name, state: p.state, pid: p.pid, version: s.value, ports: p.d.ports, readySeconds });
    });
    if (failures.length > 0) {
      for (const f of failures.slice(1)) log(`${f.service}: ${f.message}`);
      throw failures[0]!;
    }
    return { endpoints: endpointsOf(cfg), services: results, started: startedHere.map((p) => p.d.name) };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Polls the service until it answers; fails early when the process exits. Resolves to its version. */
async function waitReady(
  d: ServiceDriver,
  pid: number,
  deadline: number,
  cfg: ServicesConfig,
  offsets: ReadonlyMap<string, number>,
): Promise<string | undefined> {
  let last = "no answer yet";
  for (;;) {
    if (!isAlive(pid)) {
      throw new ServiceError({
        service: d.name,
        what: `starting ${d.title}`,
        why: `the process (pid ${pid}) exited during startup; last answer: ${last}\n${logTail(d, cfg, offsets)}`,
        details: { pid },
      });
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const waited = Math.round((Date.now() - deadline) / 1000);
      throw new ServiceError({
        service: d.name,
        what: `waiting for ${d.title} to answer`,
        why: `it did not answer before the deadline${waited > 0 ? ` (+${waited} s)` : ""} (REAGENT_SERVICES_TIMEOUT_S); last answer: ${last}\n${logTail(d, cfg, offsets)}`,
        details: { pid },
      });
    }
    const r = await d.probe(Math.max(500, Math.min(5000, left)));
    if (r.ok) return r.version;
    last = r.detail;
    await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
  }
}

export interface DownOptions extends ServicesOptions {
  /** How long to wait after SIGTERM before SIGKILL (default 30 s). */
  graceMs?: number;
  /** Also delete `.services/<name>/` (data, logs, generated configs) once stopped. */
  wipe?: boolean;
}

/** Stops the services this checkout started (SIGTERM, then SIGKILL after `graceMs`). */
export async function servicesDown(opts: DownOptions = {}): Promise<ServiceDownResult[]> {
  const cfg = loadServicesConfig(opts.env);
  const log = opts.log ?? ((): void => undefined);
  const list = drivers(cfg, opts.services);
  const results = await Promise.all(
    list.map(async (d): Promise<ServiceDownResult> => {
      const pid = readPidFile(d.pidFile);
      if (pid === undefined) {
        if (fs.existsSync(d.pidFile)) removeFile(d.pidFile);
        return { name: d.name, state: "not-running", pid: undefined };
      }
      if (!isAlive(pid) || !d.owns(cmdlineOf(pid))) {
        // Dead, or the pid now belongs to some other process: never signal it.
        removeFile(d.pidFile);
        log(`${d.name}: pid ${pid} is not ${d.title} any more; removed the stale pid file`);
        return { name: d.name, state: "stale-pid-file", pid };
      }
      log(`${d.name}: stopping pid ${pid}`);
      const how = await stopProcess(pid, opts.graceMs ?? 30_000);
      removeFile(d.pidFile);
      return { name: d.name, state: how === "killed" ? "killed" : "stopped", pid };
    }),
  );
  if (opts.wipe === true) {
    for (const d of list) {
      const pid = readPidFile(d.pidFile);
      if (pid !== undefined && isAlive(pid)) {
        throw new ServiceError({ service: d.name, what: `wiping ${path.relative(cfg.repoRoot, d.dir)}`, why: `pid ${pid} is still alive; nothing was deleted` });
      }
    }
    for (const d of list) {
      fs.rmSync(d.dir, { recursive: true, force: true });
      log(`${d.name}: deleted ${path.relative(cfg.repoRoot, d.dir)}/`);
    }
  }
  return results;
}

/** Health of each service: running from this checkout and answering. */
export async function servicesStatus(opts: ServicesOptions & { timeoutMs?: number } = {}): Promise<ServiceStatus[]> {
  const cfg = loadServicesConfig(opts.env);
  const list = drivers(cfg, opts.services);
  return Promise.all(
    list.map(async (d): Promise<ServiceStatus> => {
      const pid = runningPid(d);
      if (pid === undefined) {
        const busy: string[] = [];
        for (const p of d.ports) if (await portInUse(p.port, cfg.host)) busy.push(`${p.port}${(await portOwner(p.port)).replace(/^(.)/, " by $1")}`);
        const detail = busy.length === 0 ? "not running" : `not running from this checkout, but port(s) in use: ${busy.join("; ")}`;
        return { name: d.name, healthy: false, pid: undefined, version: d.staticVersion(), ports: d.ports, detail };
      }
      const r = await d.probe(opts.timeoutMs ?? 5000);
      return { name: d.name, healthy: r.ok, pid, version: r.version ?? d.staticVersion(), ports: d.ports, detail: r.detail };
    }),
  );
}
