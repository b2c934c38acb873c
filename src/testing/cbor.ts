/**
 * The subset of CBOR (RFC 8949) that AWS's `application/x-amz-cbor-1.1` protocol uses: the AWS SDK for Java
 * (v1 and v2, and so the KCL) speaks it to Kinesis by default. Timestamps are tag 1 around epoch
 * MILLISECONDS (Java SDK's `SdkCborGenerator` writes `date.getTime()`), not RFC 8949's seconds; blobs are
 * byte strings. Jackson writes maps and arrays with indefinite length, so the decoder takes both forms.
 */

const TIMESTAMP_TAG = 1;
const BREAK = 0xff;

/**
 * A CBOR value the emulator decodes: JSON's values plus byte strings (`Buffer`) and timestamps (`Date`).
 *
 * @example
 * ```ts
 * const value: CborValue = { Data: Buffer.from('hi'), Timestamp: new Date(0) };
 * ```
 */
export type CborValue =
  null | undefined | boolean | number | string | Buffer | Date | CborValue[] | { [key: string]: CborValue };

class Reader {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}

  byte(): number {
    if (this.offset >= this.bytes.length) throw new RangeError('CBOR: unexpected end of input');
    return this.bytes[this.offset++];
  }

  take(length: number): Buffer {
    if (this.offset + length > this.bytes.length) throw new RangeError('CBOR: unexpected end of input');
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  /** The argument of an initial byte: its length, count or integer value; -1 for indefinite length. */
  argument(info: number): number {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    if (info === 25) return this.take(2).readUInt16BE();
    if (info === 26) return this.take(4).readUInt32BE();
    if (info === 27) {
      const big = this.take(8).readBigUInt64BE();
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('CBOR: integer beyond 2^53');
      return Number(big);
    }
    if (info === 31) return -1;
    throw new RangeError(`CBOR: reserved additional information ${info}`);
  }

  value(): CborValue {
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simple(info);
    const n = this.argument(info);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2:
        return n >= 0 ? Buffer.from(this.take(n)) : Buffer.concat(this.chunks(2));
      case 3:
        return n >= 0 ? this.take(n).toString('utf8') : Buffer.concat(this.chunks(3)).toString('utf8');
      case 4: {
        const out: CborValue[] = [];
        if (n >= 0) for (let i = 0; i < n; i++) out.push(this.value());
        else while (!this.atBreak()) out.push(this.value());
        return out;
      }
      case 5: {
        const out: Record<string, CborValue> = {};
        const entry = () => {
          const key = this.value();
          out[typeof key === 'string' ? key : String(key)] = this.value();
        };
        if (n >= 0) for (let i = 0; i < n; i++) entry();
        else while (!this.atBreak()) entry();
        return out;
      }
      default: {
        // Major type 6: a tag. Only tag 1 changes the meaning; others pass their content through.
        const content = this.value();
        if (n === TIMESTAMP_TAG && typeof content === 'number') return new Date(content);
        return content;
      }
    }
  }

  private simple(info: number): CborValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25:
        return halfFloat(this.take(2).readUInt16BE());
      case 26:
        return this.take(4).readFloatBE();
      case 27:
        return this.take(8).readDoubleBE();
      default:
        throw new RangeError(`CBOR: unsupported simple value ${info}`);
    }
  }

  private atBreak(): boolean {
    if (this.offset < this.bytes.length && this.bytes[this.offset] === BREAK) {
      this.offset++;
      return true;
    }
    return false;
  }

  /** The definite-length chunks of an indefinite byte or text string. */
  private chunks(major: number): Buffer[] {
    const out: Buffer[] = [];
    while (!this.atBreak()) {
      const initial = this.byte();
      if (initial >> 5 !== major) throw new RangeError('CBOR: bad chunk in an indefinite string');
      const n = this.argument(initial & 0x1f);
      if (n < 0) throw new RangeError('CBOR: nested indefinite string');
      out.push(this.take(n));
    }
    return out;
  }
}

function halfFloat(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Decodes one CBOR data item; throws `RangeError` on malformed or trailing input.
 *
 * @example
 * ```ts
 * decodeCbor(Buffer.from('a1616101', 'hex')); // { a: 1 }
 * ```
 */
export function decodeCbor(bytes: Buffer): CborValue {
  const reader = new Reader(bytes);
  const value = reader.value();
  if (reader.offset !== bytes.length) throw new RangeError('CBOR: trailing bytes after the data item');
  return value;
}

function head(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.of(m | n);
  if (n < 0x100) return Buffer.of(m | 24, n);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = m | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  if (n < 0x100000000) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

function encodeInto(value: unknown, out: Buffer[]): void {
  if (value === null || value === undefined) out.push(Buffer.of(0xf6));
  else if (value === false) out.push(Buffer.of(0xf4));
  else if (value === true) out.push(Buffer.of(0xf5));
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) out.push(value >= 0 ? head(0, value) : head(1, -1 - value));
    else {
      const b = Buffer.alloc(9);
      b[0] = 0xfb;
      b.writeDoubleBE(value, 1);
      out.push(b);
    }
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(head(3, bytes.length), bytes);
  } else if (value instanceof Uint8Array) {
    out.push(head(2, value.length), Buffer.from(value.buffer, value.byteOffset, value.length));
  } else if (value instanceof Date) {
    out.push(head(6, TIMESTAMP_TAG));
    encodeInto(Math.round(value.getTime()), out);
  } else if (Array.isArray(value)) {
    out.push(head(4, value.length));
    for (const item of value) encodeInto(item, out);
  } else if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    out.push(head(5, entries.length));
    for (const [key, item] of entries) {
      encodeInto(key, out);
      encodeInto(item, out);
    }
  } else {
    throw new TypeError(`CBOR: cannot encode a ${typeof value}`);
  }
}

/**
 * Encodes a value with definite lengths; `Buffer`s become byte strings, `Date`s tag 1 + epoch ms, and
 * `undefined` fields are left out as JSON.stringify leaves them out.
 *
 * @example
 * ```ts
 * encodeCbor({ a: 1 }).toString('hex'); // 'a1616101'
 * ```
 */
export function encodeCbor(value: unknown): Buffer {
  const out: Buffer[] = [];
  encodeInto(value, out);
  return Buffer.concat(out);
}
