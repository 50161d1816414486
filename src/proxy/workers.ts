import cluster, { type Worker } from 'node:cluster';

export interface PrimaryOptions {
  workers: number;
  /** Lines for the operator (stderr/stdout); the primary has no pino logger of its own. */
  say(line: string): void;
  /** Called once when every worker listens, with the address they share. */
  onListening(address: string): void;
  /** ms a worker gets to finish in-flight requests after SIGTERM before it is killed. */
  graceMs: number;
}

/**
 * The cluster primary: forks the workers (each loads the config and listens; node:cluster
 * shares the port), relays SIGHUP (each worker reloads) and SIGTERM/SIGINT (each worker stops
 * accepting, finishes in-flight requests, exits), and replaces a worker that dies, unless
 * workers keep dying at start (a crash loop is reported and ends the primary).
 */
export function runPrimary(opts: PrimaryOptions): void {
  let stopping = false;
  let listening = 0;
  let announced = false;
  const quickDeaths: number[] = [];
  const started = new Map<Worker, number>();

  const fork = (): void => {
    const w = cluster.fork();
    started.set(w, Date.now());
    w.on('listening', (addr) => {
      listening++;
      if (!announced && listening >= opts.workers) {
        announced = true;
        const host = addr.address && addr.address !== '::' ? addr.address : '127.0.0.1';
        opts.onListening(`http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`);
      }
    });
  };

  cluster.on('exit', (w, code, signal) => {
    const at = started.get(w) ?? 0;
    started.delete(w);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    opts.say(`sluice: worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    const now = Date.now();
    if (now - at < 2_000) quickDeaths.push(now);
    while (quickDeaths.length && now - quickDeaths[0]! > 30_000) quickDeaths.shift();
    if (quickDeaths.length >= Math.max(3, opts.workers * 2)) {
      opts.say('sluice: workers keep exiting at start; giving up');
      process.exit(1);
    }
    fork();
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    opts.say(`sluice: ${signal}: workers finish in-flight requests, then exit`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, opts.graceMs + 2_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });

  for (let i = 0; i < opts.workers; i++) fork();
}
