import type { Command } from "commander";

/** `reagent-stream attribute`: attribute one prompt/completion pair (filled in below). */
export function registerAttribute(program: Command): void {
  program.command("attribute").description("Attribute one completion to its prompt tokens");
}
