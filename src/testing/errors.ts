/**
 * An error the emulator answers with, in AWS's JSON 1.1 shape: `{"__type": code, "message": message}`
 * with the given HTTP status. The SDK turns `__type` into the thrown error's `name`.
 *
 * @example
 * ```ts
 * throw new KinesisError('InvalidArgumentException', 'Records size exceeds 5 MB limit');
 * ```
 */
export class KinesisError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }

  /** The response body AWS sends for this error. */
  toJSON(): { __type: string; message: string } {
    return { __type: this.code, message: this.message };
  }
}

/**
 * Collects schema violations and reports them the way AWS's validation layer does: one
 * `ValidationException` listing at most ten of them.
 *
 * @example
 * ```ts
 * const errors = new ValidationErrors();
 * errors.add("''", 'partitionKey', 'Member must have length greater than or equal to 1');
 * errors.throwIfAny(); // ValidationException: 1 validation error detected: Value '' at 'partitionKey' ...
 * ```
 */
export class ValidationErrors {
  private readonly messages: string[] = [];

  /** Records a violation; `value` is already quoted (or empty to leave the value out). */
  add(value: string, path: string, constraint: string): void {
    if (this.messages.length >= 10) return;
    const shown = value === '' ? 'Value' : `Value ${value}`;
    this.messages.push(`${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  get count(): number {
    return this.messages.length;
  }

  /** The ValidationException listing the violations so far. */
  toError(): KinesisError {
    const n = this.messages.length;
    const head = `${n} validation error${n > 1 ? 's' : ''} detected: `;
    return new KinesisError('ValidationException', head + this.messages.join('; '));
  }

  throwIfAny(): void {
    if (this.messages.length > 0) throw this.toError();
  }
}

/**
 * How AWS prints a blob in a validation message: the Java buffer, never the bytes.
 *
 * @example
 * ```ts
 * describeBlob(3); // "'java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]'"
 * ```
 */
export function describeBlob(length: number): string {
  return `'java.nio.HeapByteBuffer[pos=0 lim=${length} cap=${length}]'`;
}

/**
 * A value as AWS quotes it in a validation message.
 *
 * @example
 * ```ts
 * quote('abc'); // "'abc'"
 * quote(undefined); // 'null'
 * ```
 */
export function quote(value: unknown): string {
  return value === null || value === undefined ? 'null' : `'${String(value)}'`;
}
