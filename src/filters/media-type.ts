/**
 * Media-type patterns ("text/html", "text/*", "application/*+json", "*" for any) compiled into a
 * matcher of a Content-Type header value (parameters ignored, case-insensitive). Matchers are
 * cached per pattern array: options and conditions are compiled once and frozen, so a filter
 * asking per request gets the same function back, never a new set of regexes.
 */
const cache = new WeakMap<readonly string[], (contentType: string | undefined) => boolean>();

/** "text/*", "application/*+json", "*" (anything): matched against the media type before ';'. */
export function mediaTypeMatcher(patterns: readonly string[]): (contentType: string | undefined) => boolean {
  const hit = cache.get(patterns);
  if (hit) return hit;
  const exact = new Set<string>();
  const wild: RegExp[] = [];
  let any = false;
  for (const raw of patterns) {
    const p = raw.trim().toLowerCase();
    if (p === '*' || p === '*/*') any = true;
    else if (p.includes('*')) wild.push(new RegExp(`^${p.split('*').map(escapeRe).join('[^/]*')}$`));
    else exact.add(p);
  }
  const match = (contentType: string | undefined): boolean => {
    if (contentType === undefined) return false;
    const semi = contentType.indexOf(';');
    const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    if (!mime) return false;
    return any || exact.has(mime) || wild.some((r) => r.test(mime));
  };
  cache.set(patterns, match);
  return match;
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
