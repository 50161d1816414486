/**
 * nginx and Apache httpd as peers for the `peers` group: found where Debian installs them
 * (bench/peers-setup.sh), each started from a config written to a fresh temp dir, on a free
 * loopback port, as the current user, in the foreground, one serving process, and stopped
 * (with its temp dir) when the group ends. Nothing here touches /etc or a system service.
 *
 * Both serve two locations in front of the bench upstream, like Sluice's config in the group:
 *   /pass/…  pass-through, no filters
 *   /sub/…   literal substitution internal.example → public.example.org, then gzip level 6
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type PeerName = 'nginx' | 'apache';

export interface Peer {
  readonly name: PeerName;
  readonly url: string;
  readonly version: string;
  stop(): Promise<void>;
}

/** The literal rule every contender applies (Sluice's substitute, sub_filter, mod_substitute). */
export const SUBSTITUTION = { from: 'internal.example', to: 'public.example.org' } as const;

const NGINX = '/usr/sbin/nginx';
const APACHE = '/usr/sbin/apache2';
/** Debian's apache2-bin puts its loadable modules here. */
const APACHE_MODULES = '/usr/lib/apache2/modules';
const SETUP = 'not installed (npm run bench:peers-setup installs it)';

/** Why a peer cannot run here, or undefined when it can. */
export function peerMissing(name: PeerName): string | undefined {
  if (name === 'nginx') return existsSync(NGINX) ? undefined : `nginx ${SETUP}`;
  if (!existsSync(APACHE)) return `Apache httpd ${SETUP}`;
  for (const m of ['mod_mpm_event', 'mod_proxy', 'mod_proxy_http', 'mod_substitute', 'mod_deflate']) {
    if (!existsSync(join(APACHE_MODULES, `${m}.so`))) return `Apache httpd is missing ${m} (${APACHE_MODULES})`;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Resolves once something accepts connections on the port; rejects when the process exits first. */
async function waitListening(port: number, child: ChildProcess, what: string, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening:\n${await log()}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within 10 s:\n${await log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stop a peer we started: SIGTERM to its process (both servers then stop their children),
 * then SIGKILL to its process group (spawned detached, so the group is ours alone) if it
 * has not exited within 5 s, so no worker outlives the bench.
 */
function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
}

/**
 * The account the servers' workers run as. As root, Apache refuses to serve as root, so both
 * servers' workers drop to Debian's www-data (the same account for both); otherwise they run
 * as the current user, and no user directive is written.
 */
function workerUser(): string | undefined {
  return process.getuid?.() === 0 ? 'www-data' : undefined;
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // A worker that dropped to www-data must still reach its temp files inside.
  if (workerUser()) await chmod(dir, 0o755);
  return dir;
}

function version(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', () => resolve('unknown'));
    p.once('exit', () => resolve(/(nginx|Apache)\/\S+/.exec(out)?.[0] ?? 'unknown'));
  });
}

function nginxConfig(dir: string, port: number, upstream: URL): string {
  const user = workerUser();
  const up = `${upstream.hostname}:${upstream.port}`;
  return `# written by sluice bench/lib/peers.ts
${user ? `user ${user};\n` : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream app {
    server ${up};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location /pass/ {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /sub/ {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Accept-Encoding "";
      sub_filter '${SUBSTITUTION.from}' '${SUBSTITUTION.to}';
      sub_filter_once off;
      gzip on;
      gzip_comp_level 6;
      gzip_min_length 0;
      gzip_proxied any;
    }
  }
}
`;
}

function apacheConfig(dir: string, port: number, upstream: URL): string {
  const user = workerUser();
  const mod = (name: string, file: string): string => `LoadModule ${name}_module ${APACHE_MODULES}/mod_${file}.so`;
  return `# written by sluice bench/lib/peers.ts
ServerRoot "${dir}"
DefaultRuntimeDir "${dir}"
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
LogLevel warn
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
${mod('mpm_event', 'mpm_event')}
${mod('proxy', 'proxy')}
${mod('proxy_http', 'proxy_http')}
${mod('substitute', 'substitute')}
${mod('deflate', 'deflate')}
${mod('authz_core', 'authz_core')}
${user ? `User ${user}\nGroup ${user}\n` : ''}
# one serving process (threads inside it), as nginx's one worker and Sluice's one process
StartServers 1
ServerLimit 1
ThreadLimit 32
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 64
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
DeflateCompressionLevel 6

# without an authorization module loaded, httpd answers 500 ("couldn't check user")
<Location />
  Require all granted
</Location>
ProxyPass /pass/ http://${upstream.host}/pass/
ProxyPass /sub/ http://${upstream.host}/sub/
<Location /sub/>
  SetOutputFilter SUBSTITUTE;DEFLATE
  Substitute "s|${SUBSTITUTION.from}|${SUBSTITUTION.to}|n"
</Location>
`;
}

/** Start one peer in front of `upstream` (the bench upstream's URL). */
export async function startPeer(name: PeerName, upstream: string): Promise<Peer> {
  const up = new URL(upstream);
  const dir = await tempDir(`sluice-bench-${name}-`);
  const port = await freePort();
  const conf = join(dir, `${name}.conf`);
  const errorLog = join(dir, 'error.log');
  let bin: string;
  let args: string[];
  if (name === 'nginx') {
    await writeFile(conf, nginxConfig(dir, port, up));
    bin = NGINX;
    // -e: the error log before the config is read (else the compiled-in /var/log path)
    args = ['-p', dir, '-e', errorLog, '-c', conf];
  } else {
    await writeFile(conf, apacheConfig(dir, port, up));
    bin = APACHE;
    args = ['-d', dir, '-f', conf, '-DFOREGROUND'];
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const stop = stopper(child, dir);
  const log = async (): Promise<string> => `${stderr}${await readFile(errorLog, 'utf8').catch(() => '')}`.trim();
  try {
    await waitListening(port, child, name, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, url: `http://127.0.0.1:${port}`, version: await version(bin, ['-v']), stop };
}
