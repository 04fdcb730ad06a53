/**
 * The exit codes of every `vldm` command, in one place: 0 success, 1 failure (a job failed, an
 * internal error), 2 a user error (bad flag, bad spec, bad pack, unreachable server).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
