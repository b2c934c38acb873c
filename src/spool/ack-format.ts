/**
 * The ack file's records (format version 1, `docs/spool-format.md`): encoding, decoding, and the lookup
 * of an id in the decoded runs. Pure functions over buffers, like `format.ts`.
 */
import { crc32Of } from './crc.js';
import { ACK_HEADER_BYTES, ACK_MAGIC, ACK_RECORD_BYTES, FORMAT_VERSION, readId, writeId } from './format.js';

/**
 * Ack records for distinct ids in any order: one record per run of consecutive ids. The runs are found
 * with a bitmap over the ids' range when it is dense (the usual case: acks of one flush lie within the
 * read window); sorting them was 35 ms of a spooled 8 s run (`--cpu-prof`), the bitmap a tenth of that.
 */
export function encodeAcks(ids: readonly number[]): Buffer {
  if (ids.length === 0) return Buffer.alloc(0);
  const runs: number[] = []; // first, count, first, count, ...
  let min = Infinity;
  let max = -Infinity;
  for (const id of ids) {
    if (id < min) min = id;
    if (id > max) max = id;
  }
  if (max - min < 64 * ids.length) {
    const bits = new Uint32Array(Math.floor((max - min) / 32) + 1);
    for (const id of ids) bits[(id - min) >>> 5] |= 1 << ((id - min) & 31);
    for (let i = 0; i <= max - min; i++) {
      if ((bits[i >>> 5] & (1 << (i & 31))) === 0) continue;
      if (runs.length > 0 && runs[runs.length - 2] + runs[runs.length - 1] === min + i)
        runs[runs.length - 1]++;
      else runs.push(min + i, 1);
    }
  } else {
    for (const id of new Float64Array(ids).sort()) {
      if (runs.length > 0 && runs[runs.length - 2] + runs[runs.length - 1] === id) runs[runs.length - 1]++;
      else runs.push(id, 1);
    }
  }
  const buf = Buffer.allocUnsafe((runs.length / 2) * ACK_RECORD_BYTES);
  for (let r = 0; r < runs.length; r += 2) {
    const at = (r / 2) * ACK_RECORD_BYTES;
    writeId(buf, runs[r], at + 4);
    buf.writeUInt32BE(runs[r + 1], at + 12);
    buf.writeUInt32BE(crc32Of(buf, at + 4, at + ACK_RECORD_BYTES), at);
  }
  return buf;
}

/** An ack file header. */
export function encodeAckHeader(): Buffer {
  const buf = Buffer.alloc(ACK_HEADER_BYTES);
  buf.writeUInt32BE(ACK_MAGIC, 0);
  buf.writeUInt16BE(FORMAT_VERSION, 4);
  return buf;
}

/**
 * The acked id runs of an ack file, merged and sorted as [first, end) pairs; how many records failed
 * their CRC (or the header its magic), skipped — a lost ack resends an entry, it never loses one; and the
 * bytes of a partial record or header at the end (a write the crash cut short).
 */
export function decodeAcks(buf: Buffer): { runs: [number, number][]; damaged: number; tornBytes: number } {
  if (buf.length < ACK_HEADER_BYTES) return { runs: [], damaged: 0, tornBytes: buf.length };
  const raw: [number, number][] = [];
  let damaged = buf.readUInt32BE(0) === ACK_MAGIC ? 0 : 1;
  const whole =
    ACK_HEADER_BYTES + Math.floor((buf.length - ACK_HEADER_BYTES) / ACK_RECORD_BYTES) * ACK_RECORD_BYTES;
  for (let at = ACK_HEADER_BYTES; at < whole; at += ACK_RECORD_BYTES) {
    if (crc32Of(buf, at + 4, at + ACK_RECORD_BYTES) !== buf.readUInt32BE(at)) {
      damaged++;
      continue;
    }
    const first = readId(buf, at + 4);
    raw.push([first, first + buf.readUInt32BE(at + 12)]);
  }
  raw.sort((a, b) => a[0] - b[0]);
  const runs: [number, number][] = [];
  for (const run of raw) {
    const last = runs[runs.length - 1];
    if (last !== undefined && run[0] <= last[1]) last[1] = Math.max(last[1], run[1]);
    else runs.push([...run]);
  }
  return { runs, damaged, tornBytes: buf.length - whole };
}

/** Whether `id` lies in one of the sorted [first, end) runs. */
export function inRuns(runs: readonly (readonly [number, number])[], id: number): boolean {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, end] = runs[mid];
    if (id < first) hi = mid - 1;
    else if (id >= end) lo = mid + 1;
    else return true;
  }
  return false;
}
