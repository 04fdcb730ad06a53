/**
 * Process and port helpers for the dev servers: start a program detached with its output in a log
 * file, tell whether a recorded pid is still that program, stop it, probe loopback ports, and a lock
 * file so two vldm processes never start servers in the same state folder at once.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { UserError } from '../common/errors';

export const LOOPBACK = '127.0.0.1';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts `binary args` in its own session (it outlives this process) with stdout and stderr written to
 * `logFile` (truncated first), and returns its pid.
 */
export function spawnDetached(
  binary: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
): number {
  const fd = fs.openSync(opts.logFile, 'w');
  try {
    const child = spawn(binary, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // Spawn failures arrive as an 'error' event; the missing pid below reports them synchronously.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    child.unref();
    return child.pid;
  } finally {
    fs.closeSync(fd);
  }
}

function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procState(pid) !== 'Z';
}

/**
 * Whether `pid` is alive and runs `binary`, so a pid reused by an unrelated program after a reboot is
 * never taken for our server (nor signalled). Where /proc is missing only liveness is checked.
 */
export function isRunning(pid: number, binary: string): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return !fs.existsSync('/proc/self');
  }
  const argv0 = cmdline.split('\0')[0] ?? '';
  return argv0 === binary || path.basename(argv0) === path.basename(binary);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 20_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal('SIGTERM');
  const termDeadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < termDeadline) await sleep(100);
  if (!isAlive(pid)) return;
  signal('SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(100);
  if (isAlive(pid)) throw new Error(`process ${pid} did not exit after SIGKILL`);
}

/** Whether `port` on 127.0.0.1 can be bound (nothing else listens there). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Whether a TCP connection to 127.0.0.1:`port` is accepted within `timeoutMs`. */
export function tcpAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: LOOPBACK });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The last `bytes` of a log file, for error messages when a server fails to start. */
export function logTail(file: string, bytes = 2_000): string {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8').trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * Runs `fn` holding `<dir>/lock` (created exclusively, holding our pid). A lock whose holder has died is
 * taken over; a live holder is waited for up to `timeoutMs`.
 */
export async function withDirLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lockFile = path.join(dir, 'lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    let ageMs: number;
    try {
      holder = Number(fs.readFileSync(lockFile, 'utf8').trim());
      ageMs = Date.now() - fs.statSync(lockFile).mtimeMs;
    } catch {
      continue; // Released between our calls: try again at once.
    }
    // An empty lock file is one being written right now, unless it has stayed empty for a while.
    const unreadable = !Number.isInteger(holder) || holder <= 0;
    if ((unreadable && ageMs > 5_000) || (!unreadable && !isAlive(holder))) {
      fs.rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new UserError(
        `another vldm process (pid ${holder}) is starting or stopping servers in ${dir}; wait for it or stop it`,
      );
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

/** How often readiness probes run while a server starts. */
export const PROBE_INTERVAL_MS = 250;

/**
 * Polls `probe` until it passes, the process dies (its log's end is quoted), or `deadline` (epoch ms)
 * passes. A `UserError` from the probe is final (a misconfiguration, not "not ready yet").
 */
export async function waitUntilReady(
  proc: { name: string; pid: number; binary: string; logFile: string },
  probe: () => Promise<void>,
  deadline: number,
): Promise<void> {
  let lastError: unknown;
  for (;;) {
    if (!isRunning(proc.pid, proc.binary)) {
      throw new Error(
        `${proc.name} (pid ${proc.pid}) exited before it was ready; the end of ${proc.logFile}:\n` +
          logTail(proc.logFile),
      );
    }
    try {
      await probe();
      return;
    } catch (err) {
      if (err instanceof UserError) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(
        `${proc.name} (pid ${proc.pid}) did not become ready in time (last probe: ${reason}); ` +
          `the end of ${proc.logFile}:\n${logTail(proc.logFile)}`,
      );
    }
    await sleep(PROBE_INTERVAL_MS);
  }
}
