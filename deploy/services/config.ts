/**
 * Where the local test services live and which ports they use.
 *
 * Everything is derived from the environment so that two checkouts (or a developer's own
 * Kafka on 9092) do not collide: ports are non-default and loopback-only, and every file the
 * services write stays under `.services/` (git-ignored) in the repository.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ServiceError } from "../../src/errors.js";

export type ServiceName = "kafka" | "clickhouse";
export const SERVICE_NAMES: readonly ServiceName[] = ["kafka", "clickhouse"];

/** What tests and other code need to reach the services. */
export interface ServiceEndpoints {
  /** `host:port` strings for kafkajs' `brokers`. */
  kafkaBrokers: string[];
  /** HTTP URL for `@clickhouse/client`'s `url`. */
  clickhouseUrl: string;
}

export interface ServicesConfig {
  repoRoot: string;
  /** `.services/`: pid files, generated configs, data and logs of each service. */
  servicesDir: string;
  /** `.cache/kafka-libs/`: the broker's jars, resolved by Maven. */
  kafkaLibsDir: string;
  /** `deploy/kafka/pom.xml`: names the broker version. */
  kafkaPom: string;
  /** Readiness deadline for `up`. */
  timeoutMs: number;
  host: string;
  kafka: {
    port: number;
    controllerPort: number;
    /** JVM heap, e.g. `512m` (the machine has 2 cores and the tests are small). */
    heap: string;
  };
  clickhouse: {
    httpPort: number;
    tcpPort: number;
  };
}

/** Environment variables read here, with their defaults (docs/services.md lists them). */
export const ENV = {
  kafkaPort: "REAGENT_KAFKA_PORT",
  kafkaControllerPort: "REAGENT_KAFKA_CONTROLLER_PORT",
  kafkaHeap: "REAGENT_KAFKA_HEAP",
  clickhouseHttpPort: "REAGENT_CLICKHOUSE_HTTP_PORT",
  clickhouseTcpPort: "REAGENT_CLICKHOUSE_TCP_PORT",
  servicesDir: "REAGENT_SERVICES_DIR",
  kafkaLibsDir: "REAGENT_KAFKA_LIBS_DIR",
  timeoutS: "REAGENT_SERVICES_TIMEOUT_S",
} as const;

export const DEFAULTS = {
  kafkaPort: 19092,
  kafkaControllerPort: 19093,
  kafkaHeap: "512m",
  clickhouseHttpPort: 18123,
  clickhouseTcpPort: 19000,
  timeoutS: 120,
} as const;

/** The repository root: this file is `deploy/services/config.ts`. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ServiceError({
      service: "config",
      what: `reading ${name}`,
      why: `"${raw}" is not a TCP port (an integer from 1 to 65535)`,
      details: { variable: name, value: raw },
    });
  }
  return port;
}

function readPositive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ServiceError({
      service: "config",
      what: `reading ${name}`,
      why: `"${raw}" is not a positive number of seconds`,
      details: { variable: name, value: raw },
    });
  }
  return n;
}

export function loadServicesConfig(env: NodeJS.ProcessEnv = process.env): ServicesConfig {
  const repoRoot = REPO_ROOT;
  const heap = env[ENV.kafkaHeap]?.trim() || DEFAULTS.kafkaHeap;
  if (!/^\d+[kmgKMG]?$/.test(heap)) {
    throw new ServiceError({
      service: "config",
      what: `reading ${ENV.kafkaHeap}`,
      why: `"${heap}" is not a JVM heap size such as 512m or 1g`,
    });
  }
  const cfg: ServicesConfig = {
    repoRoot,
    servicesDir: path.resolve(repoRoot, env[ENV.servicesDir]?.trim() || ".services"),
    kafkaLibsDir: path.resolve(repoRoot, env[ENV.kafkaLibsDir]?.trim() || path.join(".cache", "kafka-libs")),
    kafkaPom: path.join(repoRoot, "deploy", "kafka", "pom.xml"),
    timeoutMs: Math.round(readPositive(env, ENV.timeoutS, DEFAULTS.timeoutS) * 1000),
    host: "127.0.0.1",
    kafka: {
      port: readPort(env, ENV.kafkaPort, DEFAULTS.kafkaPort),
      controllerPort: readPort(env, ENV.kafkaControllerPort, DEFAULTS.kafkaControllerPort),
      heap,
    },
    clickhouse: {
      httpPort: readPort(env, ENV.clickhouseHttpPort, DEFAULTS.clickhouseHttpPort),
      tcpPort: readPort(env, ENV.clickhouseTcpPort, DEFAULTS.clickhouseTcpPort),
    },
  };
  const ports = [cfg.kafka.port, cfg.kafka.controllerPort, cfg.clickhouse.httpPort, cfg.clickhouse.tcpPort];
  if (new Set(ports).size !== ports.length) {
    throw new ServiceError({
      service: "config",
      what: "choosing service ports",
      why: `two services were given the same port (${ports.join(", ")}); set ${ENV.kafkaPort}, ${ENV.kafkaControllerPort}, ${ENV.clickhouseHttpPort} and ${ENV.clickhouseTcpPort} to distinct ports`,
    });
  }
  return cfg;
}

/** Endpoints of the services for a given environment (they need not be running). */
export function serviceEndpoints(env: NodeJS.ProcessEnv = process.env): ServiceEndpoints {
  const cfg = loadServicesConfig(env);
  return endpointsOf(cfg);
}

export function endpointsOf(cfg: ServicesConfig): ServiceEndpoints {
  return {
    kafkaBrokers: [`${cfg.host}:${cfg.kafka.port}`],
    clickhouseUrl: `http://${cfg.host}:${cfg.clickhouse.httpPort}`,
  };
}
