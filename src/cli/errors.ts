/**
 * `CliError`: a command-line failure whose message is shown as is, on one line.
 * @module
 */
import { TaskdError } from "../errors/base.ts";

/** A failure of a command, shown to the user as `taskd: <message>`. */
export class CliError extends TaskdError {
  override name = "CliError" as const;
  override readonly code: string = "CLI";
}
