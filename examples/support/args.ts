/** Command-line numbers for the examples: a bad one is reported and the example exits 2, before any work. */
export function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name} must be a positive integer, got ${text}`);
    process.exit(2);
  }
  return n;
}
