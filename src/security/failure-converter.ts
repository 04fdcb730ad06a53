/**
 * The failure converter vldm uses when payload encryption is on. Temporal stores an error's message and
 * stack trace as plain text in the history unless the failure converter moves them into the failure's
 * `encodedAttributes` payload, which the payload codec then encrypts like any other payload. Error
 * messages name packs, paths and jobs, so with a codec configured they must not stay readable.
 *
 * The SDK loads this module by path (`failureConverterPath`): `require`d by workers and clients, and
 * bundled into the workflow sandbox, so it imports nothing but `@temporalio/common`.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
