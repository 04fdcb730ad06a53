/** `vldm dev up | down | status`: the local Temporal, MinIO and NATS servers, in the background. */
import type { VldmConfig } from '../../config/config';
import { devDown, devStatus, devUp, validateKinds, SERVER_KINDS } from '../../dev/servers';
import { makeOut } from '../io';
import { SEARCH_ATTRIBUTES } from '../../common/names';

function kindsOf(v: string | undefined) {
  return v ? validateKinds(v.split(',').map((s) => s.trim())) : [...SERVER_KINDS];
}

export async function devUpCommand(
  opts: { only?: string; json?: boolean },
  cfg: VldmConfig,
): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  const addresses = await devUp({
    stateDir: cfg.stateDir,
    kinds: kindsOf(opts.only),
    searchAttributes: { ...SEARCH_ATTRIBUTES },
  });
  if (opts.json) out.result(addresses);
  else {
    if (addresses.temporal)
      out.info(
        `temporal  ${addresses.temporal.address} (namespace ${addresses.temporal.namespace}); UI ${addresses.temporal.uiUrl}`,
      );
    if (addresses.minio)
      out.info(`minio     ${addresses.minio.endpoint} (console ${addresses.minio.consoleUrl})`);
    if (addresses.nats) out.info(`nats      ${addresses.nats.url}`);
    out.info(`state and logs in ${cfg.stateDir}; stop with: vldm dev down`);
  }
  return 0;
}

export async function devDownCommand(opts: { only?: string }, cfg: VldmConfig): Promise<number> {
  const stopped = await devDown({ stateDir: cfg.stateDir, kinds: kindsOf(opts.only) });
  process.stdout.write(stopped.length ? `stopped ${stopped.join(', ')}\n` : 'nothing was running\n');
  return 0;
}

export async function devStatusCommand(opts: { json?: boolean }, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  const st = await devStatus({ stateDir: cfg.stateDir });
  if (opts.json) out.result(st);
  else
    for (const s of st)
      out.info(`${s.kind.padEnd(9)} ${s.state}${s.pid ? ` (pid ${s.pid})` : ''}  log ${s.logFile}`);
  return 0;
}
