/**
 * Regular expressions in a config are checked at load: one that would backtrack
 * catastrophically is refused, wherever it is written (locations, conditions, filter options).
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/pipeline/config/load.js';
import type { ChainEntryConfig, SluiceConfig } from '../../src/pipeline/config/types.js';
import { regexSafetyProblem } from '../../src/pipeline/regex-safety.js';

const CATASTROPHIC = [
  '(a+)+$', // nested quantifiers: exponential
  '^(\\w+\\s?)*$',
  '^(a|a)*$', // ambiguous alternatives: exponential (found by the sample run)
  '^(\\d|\\w)+$',
  '^/api/(a|a)*$', // behind a literal prefix
  '(x+x+)+y',
  '^(.*),(.*)$', // two quantifiers trading the same text: polynomial
  '^(.*?,){11}P',
  '^(\\w|\\d)*@x\\.com$',
];

const SAFE = [
  '^/static/',
  '^/api/v[0-9]+/users/([^/]+)$',
  'https?://internal\\.example(:\\d+)?/',
  '<a href="([^"]*)"',
  '\\.(png|jpe?g|gif|css|js)$',
  '^/(img|css|js)/.*\\.(png|css|js)$',
  '(?<=a)b',
  '(a)\\1',
  '^([a-z]+\\.)+[a-z]+$',
  // moving (quadratic only through retries at each start): allowed, bounded by input limits
  '\\s+$',
  '(\\d+)-(\\d+)',
];

describe('regexSafetyProblem', () => {
  for (const p of CATASTROPHIC) {
    it(`refuses ${JSON.stringify(p)} with a reason`, () => {
      expect(regexSafetyProblem(p)).toMatch(/backtrack/);
    });
  }
  for (const p of SAFE) {
    it(`accepts ${JSON.stringify(p)}`, () => {
      expect(regexSafetyProblem(p)).toBeUndefined();
    });
  }

  it('suggests a safe equivalent where the analysis has one, and is fast on safe patterns', () => {
    expect(regexSafetyProblem('(a+)+$')).toMatch(/nested in/);
    const t = performance.now();
    for (let i = 0; i < 20; i++) regexSafetyProblem(`^/path${i}/[a-z]+/(\\d+)$`);
    expect((performance.now() - t) / 20).toBeLessThan(50);
  });

  it('a pattern that does not compile is left to the compile check (no throw)', () => {
    expect(regexSafetyProblem('(')).toBeUndefined();
  });
});

function config(loc: { path?: string; match?: 'regex'; output?: ChainEntryConfig[] }): SluiceConfig {
  return {
    upstreams: { app: { servers: ['http://127.0.0.1:9'] } },
    locations: [{ path: loc.path ?? '/x', upstream: 'app', ...(loc.match && { match: loc.match }), ...(loc.output && { output: loc.output }) }],
  };
}

const EVIL = '^(a|a)*$';
const SITES: Record<string, SluiceConfig> = {
  'a regex location': config({ path: EVIL, match: 'regex' }),
  'a condition on the path': config({ output: [{ filter: 'identity', when: { path: EVIL } }] }),
  'a condition on a request header': config({ output: [{ filter: 'identity', when: { requestHeader: { 'user-agent': '(x+x+)+y' } } }] }),
  'a condition on a response header': config({ output: [{ filter: 'identity', when: { responseHeader: { server: '(a+)+$' } } }] }),
  'a substitute rule': config({ output: [{ filter: 'substitute', options: { rules: ['s/^(.*),(.*)$/$2/'] } }] }),
  'a substitute rule object': config({ output: [{ filter: 'substitute', options: { rules: [{ pattern: '(a+)+$', replacement: 'x' }] } }] }),
  'a sed script': config({ output: [{ filter: 'sed', options: { script: 's/\\(a*\\)*$/x/' } }] }),
  'an html-urlmap regex rule': config({ output: [{ filter: 'html-urlmap', options: { rules: [{ from: '(a+)+$', to: 'x', regex: true }] } }] }),
  'a headers edit': config({ output: [{ filter: 'headers', options: { actions: ['edit Location ^(a|a)*$ x'] } }] }),
};

describe('at config load, wherever a pattern is written', () => {
  for (const [site, cfg] of Object.entries(SITES)) {
    it(`${site}: refused, the problem names where it is and why`, () => {
      const r = validateConfig(cfg);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const text = r.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
      expect(text).toMatch(/backtrack/);
      expect(text).toMatch(/locations\[0\]/);
    });
  }

  it('the same sites with safe patterns load', () => {
    const r = validateConfig({
      upstreams: { app: { servers: ['http://127.0.0.1:9'] } },
      locations: [
        { path: '\\.(png|css)$', match: 'regex', upstream: 'app' },
        {
          path: '/x',
          upstream: 'app',
          output: [
            { filter: 'substitute', options: { rules: ['s/([a-z]+)@example\\.com/$1@example.org/'] }, when: { path: '^/x/[a-z]+$', requestHeader: { 'user-agent': 'curl/[0-9.]+' } } },
            { filter: 'sed', options: { script: 's/[0-9][0-9]*/N/g' } },
            { filter: 'html-urlmap', options: { rules: [{ from: '^http://([a-z]+)\\.internal/', to: 'https://$1.example/', regex: true }] } },
            { filter: 'headers', options: { actions: ['edit Location ^http://internal/ https://www.example.com/'] } },
          ],
        },
      ],
    });
    expect(r.ok ? [] : r.errors).toEqual([]);
  });
});
