// Minimal types for `pos` (fasttag Brill tagger with a Penn Treebank lexicon); it ships none.
declare module "pos" {
  export class Tagger {
    tag(words: string[]): [string, string][];
    wordInLexicon(word: string): boolean;
  }
  const _default: { Tagger: typeof Tagger };
  export default _default;
}
