/**
 * `npm start`: the main job on an embedded local Kinesis.
 *
 * Starts kinesalite in-process (in memory, on a free loopback port), creates a 4-shard stream, writes
 * 20,000 simulated sensor readings from 200 devices through `toKinesis()`, reads every shard back and
 * checks each record byte for byte. Exits 0 only if every record came back intact.
 *
 * Against a real stream: `KINESIS_STREAM=sensors AWS_REGION=eu-west-1 npm start` (see
 * examples/support/target.ts): the readings are written and counted from the responses; the stream is not
 * read back (it may hold other records).
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { from, map } from 'rxjs';
import { toKinesis } from '../src/index.js';
import { startLocalKinesis } from './support/local-kinesis.js';
import { realStream } from './support/target.js';

const STREAM = 'sensors';
const SHARDS = 4;
const READINGS = 20_000;
const DEVICES = 200;

interface Reading {
  deviceId: string;
  seq: number;
  temperature: number;
  humidity: number;
  at: string;
}

function* readings(): Generator<Reading> {
  const start = Date.UTC(2026, 10, 26, 12);
  for (let seq = 0; seq < READINGS; seq++) {
    const device = seq % DEVICES;
    yield {
      deviceId: `device-${String(device).padStart(3, '0')}`,
      seq,
      temperature: Math.round((18 + 8 * Math.sin(seq / 500 + device)) * 100) / 100,
      humidity: Math.round((40 + 20 * Math.cos(seq / 700 + device)) * 10) / 10,
      at: new Date(start + seq * 50).toISOString(),
    };
  }
}

const real = realStream(); // a real stream when the environment names one
const local = real ? undefined : await startLocalKinesis();
try {
  if (local) await local.createStream(STREAM, SHARDS);
  const client = real?.client ?? local!.client();
  const stream = real?.stream ?? { streamName: STREAM };
  console.log(
    local
      ? `kinesalite on ${local.endpoint}: stream "${STREAM}" with ${SHARDS} shards`
      : `real stream ${real!.label}`,
  );

  // What was sent, so the read-back can be checked byte for byte.
  const sent = new Map<string, string>();
  let delivered = 0;
  let failed = 0;
  let retried = 0;
  const started = Date.now();
  // One line redrawn in a terminal; a line a second in a log.
  const tty = process.stdout.isTTY;
  const progress = () => {
    const seconds = (Date.now() - started) / 1000;
    const line =
      `writing: ${delivered}/${READINGS} delivered, ${retried} retried, ${failed} failed, ` +
      `${Math.round(delivered / Math.max(seconds, 0.001))} records/s`;
    process.stdout.write(tty ? `\r${line}   ` : `${line}\n`);
  };
  const ticker = setInterval(progress, tty ? 250 : 1000);

  await new Promise<void>((resolve, reject) =>
    from(readings())
      .pipe(
        map((r) => {
          const data = JSON.stringify(r);
          sent.set(`${r.deviceId}#${r.seq}`, data);
          return { PartitionKey: r.deviceId, Data: data };
        }),
        toKinesis({ client, ...stream }),
      )
      .subscribe({
        next: (e) =>
          e.response.Records?.forEach((r, i) => {
            if (r.SequenceNumber) delivered++;
            else if (e.retrying[i]) retried++;
            else failed++;
          }),
        error: reject,
        complete: resolve,
      }),
  );
  clearInterval(ticker);
  progress();
  if (tty) process.stdout.write('\n');

  if (!local) {
    console.log(`\n${delivered} of ${READINGS} delivered, ${failed} failed (a real stream: not read back)`);
    process.exitCode = delivered === READINGS && failed === 0 ? 0 : 1;
    client.destroy();
  } else {
    // Read every shard back from the start.
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: STREAM }));
    const rows: { shard: string; records: number; bytes: number }[] = [];
    let intact = 0;
    let corrupt = 0;
    const seen = new Set<string>();
    for (const shard of Shards) {
      let { ShardIterator: iterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: STREAM,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const row = { shard: shard.ShardId!, records: 0, bytes: 0 };
      while (iterator) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        for (const record of page.Records ?? []) {
          const data = Buffer.from(record.Data!).toString('utf8');
          const { deviceId, seq } = JSON.parse(data) as Reading;
          const id = `${deviceId}#${seq}`;
          row.records++;
          row.bytes += record.Data!.byteLength;
          if (record.PartitionKey === deviceId && sent.get(id) === data && !seen.has(id)) intact++;
          else corrupt++;
          seen.add(id);
        }
        iterator = page.Records?.length ? page.NextShardIterator : undefined;
      }
      rows.push(row);
    }

    console.log('\nshard                   records       bytes');
    for (const r of rows) {
      console.log(`${r.shard.padEnd(22)} ${String(r.records).padStart(8)} ${String(r.bytes).padStart(11)}`);
    }
    const total = rows.reduce((t, r) => ({ records: t.records + r.records, bytes: t.bytes + r.bytes }), {
      records: 0,
      bytes: 0,
    });
    console.log(
      `${'total'.padEnd(22)} ${String(total.records).padStart(8)} ${String(total.bytes).padStart(11)}`,
    );

    const ok = intact === READINGS && corrupt === 0 && failed === 0;
    console.log(
      ok
        ? `\nOK: all ${READINGS} readings came back byte for byte in ${((Date.now() - started) / 1000).toFixed(1)} s.`
        : `\nFAILED: ${intact} intact, ${corrupt} corrupt or duplicated, ${READINGS - intact} missing, ${failed} failed.`,
    );
    process.exitCode = ok ? 0 : 1;
  }
} finally {
  await local?.close();
}
