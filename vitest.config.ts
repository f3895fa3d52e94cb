import { defineConfig } from "vitest/config";

// .ci/run sets REAGENT_VITEST_JSON=<path> to get a JSON report beside the usual console output.
const jsonReport = process.env.REAGENT_VITEST_JSON;

export default defineConfig({
  test: {
    ...(jsonReport !== undefined && jsonReport !== ""
      ? { reporters: ["default", "json"], outputFile: { json: jsonReport } }
      : {}),
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Real services are shared: run files one at a time so they do not fight for two cores.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
