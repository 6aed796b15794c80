/**
 * Parsers for option values, checked when the command line is read: a bad value is a usage error (exit 64)
 * that names the option, never an internal error or a value silently turned into another.
 */
import { InvalidArgumentError } from "commander";

/** `--limit <n>` and the like: a whole number from 1 to `max` (commander adds the option's name). */
export function positiveInt(max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    return n;
  };
}
