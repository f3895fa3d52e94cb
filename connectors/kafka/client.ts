/**
 * A kafkajs client from a connection config: brokers, TLS files, SASL, timeouts, and kafkajs's
 * log lines routed to the worker's logger.
 */
import { readFileSync } from "node:fs";
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from "kafkajs";
import type { ConnectionOptions } from "node:tls";
import { ConfigError, errorMessage } from "../../src/errors.js";
import type { PipelineLogger } from "../../src/pipeline/logger.js";
import type { KafkaConnection } from "./config.js";

const LEVELS: Record<KafkaConnection["log_level"], logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

export function brokerList(b: string | readonly string[]): string[] {
  const list = typeof b === "string" ? b.split(",") : [...b];
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError({ what: `reading ${field}`, why: `${path}: ${errorMessage(err)}`, path: field, expected: "a readable PEM file", cause: err });
  }
}

function tlsOptions(ssl: KafkaConnection["ssl"], at: string): boolean | ConnectionOptions | undefined {
  if (ssl === undefined || typeof ssl === "boolean") return ssl;
  return {
    ...(ssl.ca_file ? { ca: [readPem(ssl.ca_file, `${at}.ssl.ca_file`)] } : {}),
    ...(ssl.cert_file ? { cert: readPem(ssl.cert_file, `${at}.ssl.cert_file`) } : {}),
    ...(ssl.key_file ? { key: readPem(ssl.key_file, `${at}.ssl.key_file`) } : {}),
    ...(ssl.key_passphrase === undefined ? {} : { passphrase: ssl.key_passphrase }),
    ...(ssl.servername ? { servername: ssl.servername } : {}),
    rejectUnauthorized: ssl.reject_unauthorized,
  };
}

function saslOptions(sasl: KafkaConnection["sasl"]): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

/** The kafkajs config for a connection (exported for tests). */
export function kafkaClientConfig(conn: KafkaConnection, at: string, logger?: PipelineLogger): KafkaConfig {
  const brokers = brokerList(conn.brokers);
  if (brokers.length === 0) throw new ConfigError({ what: "configuring Kafka", why: "no brokers given", path: `${at}.brokers`, expected: "host:port, a list of them, or a comma-separated string" });
  const ssl = tlsOptions(conn.ssl, at);
  const sasl = saslOptions(conn.sasl);
  return {
    clientId: conn.client_id,
    brokers,
    connectionTimeout: conn.connection_timeout_ms,
    requestTimeout: conn.request_timeout_ms,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    ...(conn.retries === undefined ? {} : { retry: { retries: conn.retries } }),
    logLevel: LEVELS[conn.log_level],
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      const obj = { kafka: entry.namespace, ...rest };
      if (entry.level <= logLevel.ERROR) logger.error(obj, `kafkajs: ${message}`);
      else if (entry.level === logLevel.WARN) logger.warn(obj, `kafkajs: ${message}`);
      else if (entry.level === logLevel.INFO) logger.info(obj, `kafkajs: ${message}`);
      else logger.debug(obj, `kafkajs: ${message}`);
    },
  };
}

export function createKafka(conn: KafkaConnection, at: string, logger?: PipelineLogger): Kafka {
  return new Kafka(kafkaClientConfig(conn, at, logger));
}
