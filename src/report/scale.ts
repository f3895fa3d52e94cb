/**
 * One ABSOLUTE colour scale for importance, shared by the HTML report, the web view and the
 * terminal: a token's colour depends on its share of the prompt's importance (0..1), never on
 * the other tokens of the same result, so a flat, unconverged result looks pale and a decisive
 * one looks dark. Every view prints the legend below.
 */

/** Lower bounds of the levels (share of importance); level 0 is "below 1%". */
export const SCALE_STOPS = [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4] as const;

/** Background colours of the levels, white to dark red. */
export const SCALE_COLORS = ["#ffffff", "#fff3c4", "#ffe08a", "#ffc04d", "#ff8f3d", "#f0502e", "#b3001b"] as const;

/** xterm-256 backgrounds of the same levels. */
export const SCALE_XTERM = [231, 230, 229, 221, 214, 202, 160] as const;

/** Text colour that stays readable on each level. */
export const SCALE_INK = ["#222", "#222", "#222", "#222", "#222", "#fff", "#fff"] as const;

/** The level (0..6) of a share. */
export function scaleLevel(share: number): number {
  let level = 0;
  for (let i = 0; i < SCALE_STOPS.length; i++) if (share >= (SCALE_STOPS[i] as number) && share > 0) level = i;
  return share > 0 && share < (SCALE_STOPS[1] as number) ? 0 : level;
}

/** The legend's labels: "<1%", "1–2%", …, "≥40%". */
export function scaleLabels(): string[] {
  return SCALE_STOPS.map((lo, i) => {
    const hi = SCALE_STOPS[i + 1];
    const p = (v: number): string => `${Math.round(v * 100)}%`;
    if (i === 0) return `<${p(SCALE_STOPS[1])}`;
    return hi === undefined ? `≥${p(lo)}` : `${p(lo)}–${p(hi)}`;
  });
}
