/** Output helpers shared by the commands: JSON on stdout, human lines on stderr when --json is on. */

export interface Out {
  json: boolean;
  /** Human-readable line (stdout normally, stderr with --json so stdout stays one JSON object). */
  info(line: string): void;
  /** The one JSON result. */
  result(value: unknown): void;
}

export function makeOut(json: boolean): Out {
  return {
    json,
    info: (line) => (json ? process.stderr : process.stdout).write(`${line}\n`),
    result: (value) => process.stdout.write(`${JSON.stringify(value, null, json ? 0 : 2)}\n`),
  };
}
