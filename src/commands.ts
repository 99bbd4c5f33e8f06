import { PicoError } from "./errors.js";

/** Engine commands (validate, facts, reconcile): returns the exit code. */
export async function engineCommand(command: string, _argv: string[]): Promise<number> {
  throw new PicoError(`unknown command "${command}" (see picotrader --help)`);
}
