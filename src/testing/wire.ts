/**
 * The SDK's input and output shapes as they travel in the JSON 1.1 protocol: blobs are base64 strings,
 * timestamps epoch seconds. The operations take {@link Unchecked} inputs (the field names of the SDK's
 * input, values not yet validated) and return `Wire<…Output>`, so a misspelt field fails to compile.
 *
 * @example
 * ```ts
 * const out: Wire<PutRecordOutput> = { ShardId: 'shardId-000000000000', SequenceNumber: '1' };
 * ```
 */
export type Wire<T> = T extends Uint8Array
  ? string
  : T extends Date
    ? number
    : T extends readonly (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

/**
 * A request body as parsed JSON: the SDK input's field names, any values. Validation narrows them.
 *
 * @example
 * ```ts
 * const input: Unchecked<PutRecordInput> = JSON.parse(body.toString('utf8'));
 * typeof input.PartitionKey; // anything until checked
 * ```
 */
export type Unchecked<T> = { readonly [K in keyof T]?: unknown } & Readonly<Record<string, unknown>>;
