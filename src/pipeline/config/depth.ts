/**
 * A bound on how deeply a config text nests, checked before any YAML parsing: the `yaml`
 * library recurses per level, and a stack overflow inside it (a few thousand levels) leaves it
 * in a state where a later parse in the same process can exhaust memory and kill the process
 * (found by the config fuzzer: yaml 2.9). A config reloaded by a running proxy must never be
 * able to do that, so a text that could nest that deeply is refused up front.
 *
 * The estimate is conservative and cheap (one pass, no allocation): flow brackets outside
 * quotes, plus for each line its indentation and the `- `/`? ` indicators that open nested
 * block collections on it. Real configs stay under 30.
 */
export const MAX_CONFIG_DEPTH = 256;

/** The deepest nesting the text could have, by the estimate above (capped a little past the limit). */
export function nestingEstimate(text: string): number {
  let flow = 0;
  let deepest = 0;
  let quote = 0; // the quote char code while inside a quoted scalar
  let lineStart = true;
  let indent = 0;
  let indicators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      indent = 0;
      indicators = 0;
      if (quote === 39) quote = 0; // a single-quoted scalar rarely spans lines in a config: do not let one hide the rest
      continue;
    }
    if (quote !== 0) {
      if (c === 92 && quote === 34) i++; // \" inside a double-quoted scalar
      else if (c === quote) quote = 0;
      continue;
    }
    if (lineStart) {
      if (c === 32) {
        indent++;
        continue;
      }
      if ((c === 45 || c === 63) && (text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 10)) {
        indicators++; // "- " or "? ": one more level on this line
        i++;
        while (text.charCodeAt(i + 1) === 32) i++;
        const d = indent + indicators;
        if (d > deepest) deepest = d;
        continue;
      }
      lineStart = false;
    }
    if (c === 34 || c === 39) quote = c;
    else if (c === 35 && (i === 0 || text.charCodeAt(i - 1) === 32)) {
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++; // a comment
    } else if (c === 91 || c === 123) {
      flow++;
      if (flow + indent + indicators > deepest) deepest = flow + indent + indicators;
    } else if ((c === 93 || c === 125) && flow > 0) flow--;
    if (deepest > MAX_CONFIG_DEPTH + 1) return deepest;
  }
  return Math.max(deepest, indent + indicators);
}
