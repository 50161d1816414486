import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/proxy/cli.js');
const run = promisify(execFile);

/** The README's promises about the command, against the built package (npm install builds it). */
describe('sluice command', () => {
  it('npm start: the demo answers on the URLs it prints', async () => {
    const child = spawn(process.execPath, [cli], { cwd: root, env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn' } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /demo proxy on (http:\/\/[^\s,]+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        setTimeout(() => reject(new Error(`no banner: ${out}`)), 10_000);
      });
      const home = await fetch(`${url}/`, { headers: { 'accept-encoding': 'gzip' } });
      expect(home.status).toBe(200);
      expect(home.headers.get('content-encoding')).toBe('gzip');
      expect(await home.text()).toContain('internal.example');
      const legacy = await fetch(`${url}/legacy`);
      expect(legacy.headers.get('content-type')).toContain('charset=utf-8');
      expect(await legacy.text()).toContain('€');
      const sjis = await fetch(`${url}/legacy-sjis`);
      expect(await sjis.text()).toContain('<meta charset="utf-8">');
      const gz = await fetch(`${url}/gzipped`, { headers: { 'accept-encoding': 'identity' } });
      expect(gz.headers.get('content-encoding')).toBeNull();
      const gzText = await gz.text();
      expect(gzText).toContain('<img src="/logo.svg"'); // decompress + substitute
      expect(gzText).not.toContain('internal.example');
      const links = await (await fetch(`${url}/links`)).text();
      expect(links).toContain('<a href="/">The index</a>');
      expect(links).toContain('srcset="/logo.svg 1x, /logo.svg?size=2 2x"');
      expect(links).toContain('<a HREF=/legacy>');
      expect(links).toContain('<a href="https://example.org/">');
      expect(links).toContain('<!-- a comment mentioning http://internal.example:8000/ is not a link'); // untouched
      const moved = await fetch(`${url}/moved`, { redirect: 'manual' });
      expect(moved.status).toBe(302);
      expect(moved.headers.get('location')).toBe(`${url}/links`);
      expect(moved.headers.get('set-cookie')).toBe('demo=1; Path=/; HttpOnly');
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);

  it('check: a valid config exits 0', async () => {
    const { stdout } = await run(process.execPath, [cli, 'check', '--config', join(root, 'examples/configs/basic.yaml')]);
    expect(stdout).toMatch(/ok \(3 locations\)/);
  });

  it('check: a broken config exits non-zero and names every problem with its line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      ['upstreams:', '  app: { servers: [http://127.0.0.1:3000] }', 'locations:', '  - path: /', '    upstream: nowhere', '    output: [{ filter: gzip, options: { level: 12 } }]', ''].join('\n'),
    );
    const err = (await run(process.execPath, [cli, 'check', '--config', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/bad\.yaml:5:.*locations\[0\]\.upstream/);
    expect(err.stderr).toMatch(/bad\.yaml:6:.*level/);
  });

  it('a bad config exits non-zero before listening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ upstreams: {}, locations: [{ path: '/', upstream: 'x' }] }));
    const err = (await run(process.execPath, [cli, '--config', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/invalid config/);
  });
});

describe('published JSON Schema', () => {
  it('is built into the package as sluice/config.schema.json and describes the config', async () => {
    const { readFileSync } = await import('node:fs');
    const schema = JSON.parse(readFileSync(join(root, 'dist/config.schema.json'), 'utf8')) as { properties: Record<string, unknown>; required?: string[] };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['listen', 'upstreams', 'filters', 'locations']));
    expect(schema.required).toEqual(expect.arrayContaining(['upstreams', 'locations']));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string> };
    expect(pkg.exports['./config.schema.json']).toBe('./dist/config.schema.json');
  });
});
