/** Shared by the benchmarks: option values checked, and a bad one reported with the usage text. */

/** A whole-number option >= min; its default when absent. Throws, naming the option, otherwise. */
export function positiveInt(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${v}`);
  return x;
}

/** f(), or on an error its message and the usage text on stderr, and exit code 2. */
export function orExit<T>(help: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${help}`);
    process.exit(2);
  }
}
