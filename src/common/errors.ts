/**
 * Stable failure types. Errors a user can fix say what was wrong and what is allowed. Across the
 * workflow/activity boundary they travel as Temporal ApplicationFailures carrying these types; the
 * non-retryable ones are those no retry can fix.
 */

export const FAILURE_TYPES = {
  /** The job spec or a CLI flag is invalid. */
  badInput: 'VldmBadInput',
  /** A model pack or ONNX file does not follow the model contract. */
  contract: 'VldmContractViolation',
  /** An artifact failed verification (checksum mismatch); recompute. Retryable. */
  corruptArtifact: 'VldmCorruptArtifact',
  /**
   * A worker refused a task of a job submitted with another artifact store or pack than its own
   * (src/worker/fleet.ts): no retry on the same fleet can help, so the job fails at once.
   */
  wrongFleet: 'VldmWrongFleet',
} as const;

export const NON_RETRYABLE_FAILURE_TYPES: string[] = [
  FAILURE_TYPES.badInput,
  FAILURE_TYPES.contract,
  FAILURE_TYPES.wrongFleet,
];

/** A problem with what the user asked for: printed without a stack trace, exit code 2. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly type: string = FAILURE_TYPES.badInput,
  ) {
    super(message);
  }
}

/** A model pack or model file breaks the contract (docs/model-contract.md). */
export class ContractError extends UserError {
  override name = 'ContractError';
  constructor(message: string) {
    super(message, FAILURE_TYPES.contract);
  }
}
