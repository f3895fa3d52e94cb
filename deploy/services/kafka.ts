/**
 * A single-node Kafka (KRaft, combined broker + controller) for the integration tests.
 *
 * The jars come from Maven Central through deploy/kafka/pom.xml and are copied to
 * `.cache/kafka-libs/`; the broker runs as `java -cp '.cache/kafka-libs/*' kafka.Kafka
 * .services/kafka/server.properties`, loopback only, with its data and logs under
 * `.services/kafka/`.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ServiceError, errorMessage } from "../../src/errors.js";
import type { ServicesConfig } from "./config.js";
import type { LaunchSpec, Logger, PortInfo, ProbeResult, ServiceDriver } from "./driver.js";
import { withTimeout, xmlEscape } from "./driver.js";
import { runCommand, tailText, which } from "./proc.js";

/** Kafka 4.x brokers need Java 17 or newer. */
const MIN_JAVA = 17;
const STAMP = ".pom-sha256";

/** Kafka's own cluster id format: 16 random bytes, base64url without padding, not starting with '-'. */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

function propValue(s: string): string {
  return s.replace(/\\/g, "\\\\");
}

export class KafkaDriver implements ServiceDriver {
  readonly name = "kafka" as const;
  readonly title = "Kafka";
  readonly dir: string;
  readonly pidFile: string;
  readonly ports: readonly PortInfo[];
  private readonly dataDir: string;
  private readonly logDir: string;
  private readonly propsFile: string;
  private readonly log4jFile: string;
  private readonly clusterIdFile: string;
  private javaBin: string | undefined;

  constructor(private readonly cfg: ServicesConfig) {
    this.dir = path.join(cfg.servicesDir, "kafka");
    this.pidFile = path.join(this.dir, "pid");
    this.dataDir = path.join(this.dir, "data");
    this.logDir = path.join(this.dir, "logs");
    this.propsFile = path.join(this.dir, "server.properties");
    this.log4jFile = path.join(this.dir, "log4j2.xml");
    this.clusterIdFile = path.join(this.dir, "cluster-id");
    this.ports = [
      { label: "broker", port: cfg.kafka.port },
      { label: "controller", port: cfg.kafka.controllerPort },
    ];
  }

  logFiles(): string[] {
    return [path.join(this.logDir, "server.log"), path.join(this.logDir, "console.log")];
  }

  owns(cmdline: string): boolean {
    return cmdline.includes("kafka.Kafka") && cmdline.includes(this.propsFile);
  }

  staticVersion(): string | undefined {
    let names: string[];
    try {
      names = fs.readdirSync(this.cfg.kafkaLibsDir);
    } catch {
      return undefined;
    }
    for (const n of names) {
      const m = /^kafka_[\d.]+-(.+)\.jar$/.exec(n);
      if (m !== null) return m[1];
    }
    return undefined;
  }

  configMatches(): boolean {
    try {
      return fs.readFileSync(this.propsFile, "utf8") === this.serverProperties();
    } catch {
      return false;
    }
  }

  async install(log: Logger): Promise<void> {
    this.javaBin = await findJava();
    if (this.libsUpToDate()) return;
    await this.resolveJars(log);
  }

  /** The jars match deploy/kafka/pom.xml as it is now. */
  private libsUpToDate(): boolean {
    try {
      const stamp = fs.readFileSync(path.join(this.cfg.kafkaLibsDir, STAMP), "utf8").trim();
      return stamp === this.pomHash() && this.staticVersion() !== undefined;
    } catch {
      return false;
    }
  }

  private pomHash(): string {
    return createHash("sha256").update(fs.readFileSync(this.cfg.kafkaPom)).digest("hex");
  }

  private async resolveJars(log: Logger): Promise<void> {
    const mvn = which("mvn");
    if (mvn === undefined) {
      throw new ServiceError({
        service: "kafka",
        what: "resolving the Kafka broker jars",
        why: "Maven is not installed (no `mvn` on PATH); it downloads the broker from Maven Central once. Install it (Debian: apt-get install -y maven) and run again",
      });
    }
    const libs = this.cfg.kafkaLibsDir;
    const tmp = `${libs}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(libs), { recursive: true });
    log(`kafka: resolving the broker jars with Maven (${path.relative(this.cfg.repoRoot, this.cfg.kafkaPom)}) into ${path.relative(this.cfg.repoRoot, libs)}/`);
    const mavenLog = path.join(this.dir, "maven.log");
    const started = Date.now();
    const r = await runCommand(
      mvn,
      ["-B", "-q", "-f", this.cfg.kafkaPom, "dependency:copy-dependencies", `-Dkafka.libs.dir=${tmp}`],
      { cwd: this.cfg.repoRoot, timeoutMs: 20 * 60_000, logFile: mavenLog },
    );
    if (r.code !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      const why = r.spawnError !== undefined ? `mvn could not be started: ${r.spawnError.message}` : `mvn exited with ${r.code ?? r.signal}`;
      throw new ServiceError({
        service: "kafka",
        what: "resolving the Kafka broker jars with Maven",
        why: `${why} (full output: ${mavenLog}); last lines:\n${tailText(r.output)}`,
        details: { exitCode: r.code, mavenLog },
      });
    }
    const hash = this.pomHash();
    fs.writeFileSync(path.join(tmp, STAMP), `${hash}\n`);
    fs.rmSync(libs, { recursive: true, force: true });
    fs.renameSync(tmp, libs);
    log(`kafka: jars resolved in ${((Date.now() - started) / 1000).toFixed(1)} s (Kafka ${this.staticVersion() ?? "?"})`);
  }

  async prepare(log: Logger): Promise<LaunchSpec> {
    const java = this.javaBin ?? (await findJava());
    fs.mkdirSync(this.dataDir, { recursive: true });
    fs.mkdirSync(this.logDir, { recursive: true });
    fs.writeFileSync(this.propsFile, this.serverProperties());
    fs.writeFileSync(this.log4jFile, this.log4jConfig());
    const jvm = this.jvmArgs();
    if (!fs.existsSync(path.join(this.dataDir, "meta.properties"))) {
      let clusterId: string;
      try {
        clusterId = fs.readFileSync(this.clusterIdFile, "utf8").trim();
      } catch {
        clusterId = newClusterId();
        fs.writeFileSync(this.clusterIdFile, `${clusterId}\n`);
      }
      log(`kafka: formatting storage in ${path.relative(this.cfg.repoRoot, this.dataDir)}/ (cluster id ${clusterId})`);
      const formatLog = path.join(this.logDir, "format.log");
      const r = await runCommand(
        java,
        [...jvm, "kafka.tools.StorageTool", "format", `--cluster-id=${clusterId}`, "--config", this.propsFile, "--ignore-formatted"],
        { cwd: this.dir, timeoutMs: 120_000, logFile: formatLog },
      );
      if (r.code !== 0) {
        throw new ServiceError({
          service: "kafka",
          what: "formatting the Kafka storage directory",
          why: `kafka.tools.StorageTool exited with ${r.code ?? r.signal} (full output: ${formatLog}); last lines:\n${tailText(r.output)}`,
        });
      }
    }
    return {
      cmd: java,
      args: [...jvm, "kafka.Kafka", this.propsFile],
      consoleLog: path.join(this.logDir, "console.log"),
    };
  }

  private jvmArgs(): string[] {
    const heap = this.cfg.kafka.heap;
    return [
      `-Xmx${heap}`,
      `-Xms${heap}`,
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExitOnOutOfMemoryError",
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${this.log4jFile}`,
      `-Dkafka.logs.dir=${this.logDir}`,
      "-cp",
      // The java launcher expands the '*' itself: no shell is involved.
      path.join(this.cfg.kafkaLibsDir, "*"),
    ];
  }

  private serverProperties(): string {
    const h = this.cfg.host;
    const { port, controllerPort } = this.cfg.kafka;
    const props: [string, string | number][] = [
      // One node is both the broker and the only KRaft voter.
      ["process.roles", "broker,controller"],
      ["node.id", 1],
      ["controller.quorum.voters", `1@${h}:${controllerPort}`],
      ["listeners", `PLAINTEXT://${h}:${port},CONTROLLER://${h}:${controllerPort}`],
      ["advertised.listeners", `PLAINTEXT://${h}:${port}`],
      ["controller.listener.names", "CONTROLLER"],
      ["inter.broker.listener.name", "PLAINTEXT"],
      ["listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"],
      ["log.dirs", propValue(this.dataDir)],
      // Tests create their topics explicitly; a typo must fail, not create a topic.
      ["auto.create.topics.enable", "false"],
      ["delete.topic.enable", "true"],
      ["num.partitions", 1],
      ["default.replication.factor", 1],
      ["min.insync.replicas", 1],
      // Internal topics cannot have more replicas than there are brokers.
      ["offsets.topic.replication.factor", 1],
      ["offsets.topic.num.partitions", 3],
      ["transaction.state.log.replication.factor", 1],
      ["transaction.state.log.min.isr", 1],
      ["transaction.state.log.num.partitions", 3],
      ["share.coordinator.state.topic.replication.factor", 1],
      ["share.coordinator.state.topic.min.isr", 1],
      // No reason to wait for more group members on a test broker.
      ["group.initial.rebalance.delay.ms", 0],
      // Two cores: keep the thread pools small.
      ["num.network.threads", 2],
      ["num.io.threads", 4],
      ["num.recovery.threads.per.data.dir", 1],
      ["background.threads", 4],
      // Test data is disposable: small segments, short retention.
      ["log.retention.hours", 24],
      ["log.segment.bytes", 64 * 1024 * 1024],
      ["log.retention.check.interval.ms", 300_000],
    ];
    return `# Generated by deploy/services/kafka.ts on each start; edits are overwritten.\n${props.map(([k, v]) => `${k}=${v}`).join("\n")}\n`;
  }

  private log4jConfig(): string {
    const file = xmlEscape(path.join(this.logDir, "server.log"));
    const pattern = "[%d] %p %m (%c)%n";
    return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/services/kafka.ts on each start; edits are overwritten. -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="${file}" filePattern="${file}.%i">
      <PatternLayout pattern="${pattern}"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
`;
  }

  async probe(timeoutMs: number): Promise<ProbeResult> {
    const kafka = new Kafka({
      clientId: "reagent-services-probe",
      brokers: [`${this.cfg.host}:${this.cfg.kafka.port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: Math.min(3000, timeoutMs),
      requestTimeout: Math.min(5000, timeoutMs),
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      const cluster = await withTimeout(
        (async () => {
          await admin.connect();
          return admin.describeCluster();
        })(),
        timeoutMs,
        `no metadata answer within ${timeoutMs} ms`,
      );
      return {
        ok: cluster.brokers.length > 0,
        version: this.staticVersion(),
        detail: `metadata: ${cluster.brokers.length} broker(s), controller ${cluster.controller ?? "none"}, cluster id ${cluster.clusterId}`,
      };
    } catch (err) {
      return { ok: false, version: this.staticVersion(), detail: `metadata request failed: ${errorMessage(err)}` };
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/** The java binary ($JAVA_HOME/bin/java, else `java` on PATH), checked to be Java 17+. */
export async function findJava(): Promise<string> {
  const home = process.env.JAVA_HOME;
  const fromHome = home !== undefined && home !== "" ? which(path.join(home, "bin", "java")) : undefined;
  const java = fromHome ?? which("java");
  if (java === undefined) {
    throw new ServiceError({
      service: "kafka",
      what: "starting Kafka",
      why: `Java is not installed (no \`java\` on PATH, nor $JAVA_HOME/bin/java); the Kafka broker needs Java ${MIN_JAVA} or newer. Install it (Debian: apt-get install -y openjdk-17-jre-headless) and run again`,
    });
  }
  const r = await runCommand(java, ["-version"], { timeoutMs: 30_000 });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  if (r.code !== 0 || m === null) {
    throw new ServiceError({
      service: "kafka",
      what: "checking the Java version",
      why: `\`${java} -version\` failed (exit ${r.code ?? r.signal}): ${tailText(r.output, 5)}`,
    });
  }
  // "1.8.0_x" is Java 8; "17.0.15" is Java 17.
  const major = m[1] === "1" ? Number(m[2] ?? 0) : Number(m[1]);
  if (major < MIN_JAVA) {
    throw new ServiceError({
      service: "kafka",
      what: "checking the Java version",
      why: `${java} is Java ${major}; Kafka 4 brokers need Java ${MIN_JAVA} or newer (set JAVA_HOME to a newer JDK, or apt-get install -y openjdk-17-jre-headless)`,
    });
  }
  return java;
}
