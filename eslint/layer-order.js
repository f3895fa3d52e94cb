// @ts-check
/**
 * `layers/order`: an import may only point down the house (docs/architecture.md):
 *
 *   schemas/ + src/*.ts                        contracts and the shared kernel (errors, retry, version)
 *   src/text/                                   tokenizers, chat templates, segments
 *   src/attribution/, src/pipeline/             the engine and the worker loop (interfaces only)
 *   connectors/, src/models/                    implementations: Kafka, stores, OTel, ONNX, HTTP
 *   src/app/                                    config and composition
 *   src/cli/                                    the command line
 *
 * Files outside these folders (test/, bench/, deploy/) may import anything.
 */
import { dirname, relative, resolve } from "node:path";

/** @type {readonly { name: string, test: RegExp }[]} lowest first */
export const LAYERS = [
  { name: "contracts (schemas/, src/*.ts)", test: /^(schemas\/|src\/[^/]+\.ts$)/ },
  { name: "text (src/text/)", test: /^src\/text\// },
  { name: "core (src/attribution/, src/pipeline/)", test: /^src\/(attribution|pipeline)\// },
  { name: "connectors (connectors/, src/models/)", test: /^(connectors|src\/models)\// },
  { name: "app (src/app/)", test: /^src\/app\// },
  { name: "cli (src/cli/)", test: /^src\/cli\// },
];

/** @param {string} rel a repository-relative path */
export function layerOf(rel) {
  const i = LAYERS.findIndex((l) => l.test.test(rel.replaceAll("\\", "/")));
  return i < 0 ? undefined : i;
}

/** @type {import("eslint").Rule.RuleModule} */
const orderRule = {
  meta: {
    type: "problem",
    docs: { description: "imports point down the layers: contracts <- text <- core <- connectors <- app <- cli" },
    schema: [{ type: "object", properties: { root: { type: "string" } }, additionalProperties: false }],
    messages: {
      upward: "{{from}} may not import {{to}}: {{fromLayer}} sits below {{toLayer}}. Move the shared part down (a contract to schemas/, an interface to the layer that consumes it) or do the wiring in src/app/.",
    },
  },
  create(context) {
    const root = /** @type {{ root?: string }} */ (context.options[0] ?? {}).root ?? context.cwd;
    const from = relative(root, context.filename);
    const fromLayer = layerOf(from);
    if (fromLayer === undefined) return {};
    /** @param {import("estree").Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== "string" || !source.startsWith(".")) return;
      const to = relative(root, resolve(dirname(context.filename), source)).replace(/\.js$/, ".ts");
      const toLayer = layerOf(to);
      if (toLayer === undefined || toLayer <= fromLayer) return;
      context.report({
        node,
        messageId: "upward",
        data: { from, to, fromLayer: /** @type {{name: string}} */ (LAYERS[fromLayer]).name, toLayer: /** @type {{name: string}} */ (LAYERS[toLayer]).name },
      });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => check(node, node.source?.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, node.source.type === "Literal" ? node.source.value : undefined),
    };
  },
};

export default { rules: { order: orderRule } };
