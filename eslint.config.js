// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./eslint/layer-order.js";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".cache/", ".services/", "models/", "bin/", "demo-output/", "eslint.config.js", "eslint/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A floating promise in a stream worker is a lost record.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "no-console": "off",
    },
  },
  {
    // Imports point down the house: contracts <- text <- core <- connectors <- app <- cli.
    files: ["src/**/*.ts", "connectors/**/*.ts", "schemas/**/*.ts"],
    plugins: { layers },
    rules: { "layers/order": ["error", { root: import.meta.dirname }] },
  },
  {
    // The engine and the pipeline depend on interfaces only; heavy SDKs stay at the edges.
    files: ["src/attribution/**/*.ts", "src/pipeline/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["kafkajs", "@clickhouse/*", "onnxruntime-node", "@opentelemetry/*", "@duckdb/*"], message: "The engine and pipeline import interfaces only; implementations live in src/models or connectors/." },
        ],
      }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
    },
  },
);
