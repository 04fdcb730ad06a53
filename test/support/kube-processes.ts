/**
 * The test control plane's processes as the folder records them: etcd and kube-apiserver, and for a
 * full control plane also kube-controller-manager, kube-scheduler and kwok (the fake nodes). Each is
 * started detached with a pid file, a JSON record (binary, arguments, log) and a log, so a later test
 * run can tell its own live processes from anything else on the ports and stop them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOOPBACK, isRunning, spawnDetached, stopProcess } from '../../src/dev/process';

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';
/** In start order: kube-apiserver needs its etcd. */
export const COMPONENTS: Component[] = ['etcd', 'kube-apiserver'];
/** A full control plane, in start order: everything else needs the API server. */
export const FULL_COMPONENTS: Component[] = [
  ...COMPONENTS,
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
];

export interface ComponentRecord {
  component: Component;
  pid: number;
  binary: string;
  args: string[];
  startedAt: string;
  logFile: string;
}

const componentFiles = (dir: string, c: Component) => ({
  pid: path.join(dir, `${c}.pid`),
  record: path.join(dir, `${c}.json`),
  log: path.join(dir, `${c}.log`),
});

/** The parsed JSON file, or undefined when it is missing or unreadable. */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The component's record when the process it names still runs that binary. */
export function liveRecord(dir: string, c: Component): ComponentRecord | undefined {
  const record = readJson<ComponentRecord>(componentFiles(dir, c).record);
  return record && isRunning(record.pid, record.binary) ? record : undefined;
}

function removeRecord(dir: string, c: Component): void {
  const f = componentFiles(dir, c);
  fs.rmSync(f.record, { force: true });
  fs.rmSync(f.pid, { force: true });
}

/** Starts the component detached, logging into the folder, and records it there. */
export function startComponent(
  dir: string,
  component: Component,
  binary: string,
  args: string[],
): ComponentRecord {
  const f = componentFiles(dir, component);
  // gRPC (etcd's client inside kube-apiserver) honours proxy variables; loopback must never be proxied.
  const noProxy = [process.env.NO_PROXY, LOOPBACK, 'localhost'].filter(Boolean).join(',');
  const env = { ...process.env, NO_PROXY: noProxy, no_proxy: noProxy };
  const pid = spawnDetached(binary, args, { cwd: dir, env, logFile: f.log });
  const record: ComponentRecord = {
    component,
    pid,
    binary,
    args,
    startedAt: new Date().toISOString(),
    logFile: f.log,
  };
  fs.writeFileSync(f.record, JSON.stringify(record, null, 2) + '\n');
  fs.writeFileSync(f.pid, `${pid}\n`);
  return record;
}

/** Stops the components that still run (in reverse start order) and forgets all of them; returns those stopped. */
export async function stopComponents(dir: string, components: Component[]): Promise<Component[]> {
  const stopped: Component[] = [];
  // Reverse start order: kube-apiserver stopped before its etcd shuts down cleanly instead of retrying,
  // and its clients go before it.
  for (const c of [...components].reverse()) {
    const record = liveRecord(dir, c);
    if (record) {
      await stopProcess(record.pid);
      stopped.push(c);
    }
    removeRecord(dir, c);
  }
  return stopped;
}
