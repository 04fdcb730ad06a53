/**
 * `vldm models verify [pack]`: check a model pack against the model contract (docs/model-contract.md)
 * and print the report. A command like the others: the pack defaults to the configured one, and the
 * probes run with the configured onnxruntime threads and execution providers, so a GPU pod verifies
 * with the providers it will serve with.
 */
import type { VldmConfig } from '../../config/config';
import { formatVerifyReport, verifyPack } from '../../models/verify';
import { EXIT } from '../exit-codes';

export async function modelsVerify(
  pack: string | undefined,
  opts: { json?: boolean },
  cfg: VldmConfig,
): Promise<number> {
  const report = await verifyPack(pack ?? cfg.pack, {
    intraOpThreads: cfg.intraOpThreads,
    executionProviders: cfg.executionProviders,
  });
  process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : formatVerifyReport(report)}\n`);
  // A pack that breaks the contract is the user's input being wrong: the usage code, like a bad spec.
  return report.ok ? EXIT.ok : EXIT.usage;
}
