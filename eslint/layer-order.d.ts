import type { Rule } from "eslint";
export declare const LAYERS: readonly { name: string; test: RegExp }[];
export declare function layerOf(rel: string): number | undefined;
declare const plugin: { rules: { order: Rule.RuleModule } };
export default plugin;
