import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AdminServer, type AdminOptions } from './admin.js';
import { ProxyMetrics, type ConfigState, type MetricsSnapshot } from './metrics.js';

/**
 * The admin listener with `--workers`. Each worker counts its own requests; were each to open
 * the admin port, node:cluster would share it and hand every scrape to whichever worker, so a
 * scrape would see one worker's counts at random. Instead the primary listens, and on each
 * scrape asks every worker for a snapshot over the cluster's IPC channel and sums them (as
 * prom-client's AggregatorRegistry does). Readiness: every worker answers, and says it is ready.
 */

const ASK = 'sluice:admin-ask';
const ANSWER = 'sluice:admin-answer';
/** A worker that does not answer in this time counts as not ready, and its counts are missing. */
const ANSWER_MS = 1_000;

interface Ask {
  type: typeof ASK;
  id: string;
}

interface Answer {
  type: typeof ANSWER;
  id: string;
  ready: boolean;
  snapshot: MetricsSnapshot;
}

/** In a worker: answer the primary's scrapes with this worker's counts and readiness. */
export function answerAdminScrapes(metrics: ProxyMetrics, config: () => ConfigState, ready: () => boolean): void {
  process.on('message', (msg: unknown) => {
    if (!isMessage<Ask>(msg, ASK) || !process.send) return;
    const answer: Answer = { type: ANSWER, id: msg.id, ready: ready(), snapshot: metrics.snapshot(config()) };
    process.send(answer);
  });
}

/** In the primary: the admin listener for the workers it runs (`workers`: how many there should be). */
export async function startClusterAdmin(workers: number, opts: AdminOptions): Promise<AdminServer> {
  const gather = async (): Promise<Answer[]> => {
    const id = randomUUID();
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const answers = live.map(
      (w) =>
        new Promise<Answer | undefined>((resolve) => {
          const timer = setTimeout(() => done(undefined), ANSWER_MS);
          const onMessage = (msg: unknown): void => {
            if (isMessage<Answer>(msg, ANSWER) && msg.id === id) done(msg);
          };
          const done = (a: Answer | undefined): void => {
            clearTimeout(timer);
            w.off('message', onMessage);
            w.off('exit', onExit);
            resolve(a);
          };
          const onExit = (): void => done(undefined);
          w.on('message', onMessage);
          w.on('exit', onExit);
          try {
            w.send({ type: ASK, id } satisfies Ask);
          } catch {
            done(undefined);
          }
        }),
    );
    return (await Promise.all(answers)).filter((a): a is Answer => a !== undefined);
  };
  const server = new AdminServer({
    metrics: {
      render: async () => {
        const sum = new ProxyMetrics();
        for (const a of await gather()) sum.absorb(a.snapshot);
        return sum.render();
      },
    },
    ready: async () => {
      const answers = await gather();
      return answers.length >= workers && answers.every((a) => a.ready);
    },
  });
  await server.listen(opts);
  return server;
}

function isMessage<T extends { type: string; id: string }>(msg: unknown, type: T['type']): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type && typeof (msg as { id?: unknown }).id === 'string';
}
