/**
 * CPU time from /proc (Linux): what a process and the whole host have used. The benchmark and the load
 * test report the Temporal server's, the workers' and the host's CPU with these, so a slow run can be
 * told apart from a busy machine. Elsewhere (no /proc) a process reads 0.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's counters (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) process `pid` has used; 0 when it cannot be read. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // utime, stime
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the whole host (all cores), from /proc/stat. */
export function hostCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0); // idle, iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / USER_HZ, total: total / USER_HZ };
}
