import { readFileSync } from 'node:fs';

/** What the kernel has counted for one process so far (all its threads). */
export interface ProcessCounters {
  /** User + system CPU time, ms. */
  cpuMs: number;
  /** Minor page faults: pages the process touched that had to be mapped in. */
  minorFaults: number;
}

/** USER_HZ: the unit of /proc/<pid>/stat's times; 100 on every Linux ABI Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Counters from /proc/<pid>/stat, or null where there is no /proc (not Linux) or the process
 * is gone. Fields after the parenthesised command name: minflt is the 8th, utime and stime
 * the 12th and 13th (proc(5)).
 */
export function processCounters(pid: number): ProcessCounters | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, minorFaults: Number(f[7]) };
}
