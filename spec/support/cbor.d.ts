/** The few members of `cbor` 5.x (no bundled types) that the read spec uses as an independent codec. */
declare module 'cbor' {
  export class Tagged {
    constructor(tag: number, value: unknown);
  }
  export function encode(...values: unknown[]): Buffer;
  export function decodeFirstSync(
    input: Buffer,
    options?: { tags?: Record<number, (value: never) => unknown> },
  ): unknown;
  const cbor: { encode: typeof encode; decodeFirstSync: typeof decodeFirstSync; Tagged: typeof Tagged };
  export default cbor;
}
