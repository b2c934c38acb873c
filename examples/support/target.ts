/**
 * Where an example writes when the environment names a real stream. Every example runs on a local stream
 * (the emulator, or kinesalite for `npm start`) unless these are set:
 *
 * - `KINESIS_STREAM` — the stream's name, and/or `KINESIS_STREAM_ARN` — its ARN (the stream must exist);
 * - the AWS SDK's own settings for the client: `AWS_REGION`, credentials (`AWS_PROFILE`, or
 *   `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, or an instance role), and
 *   `AWS_ENDPOINT_URL_KINESIS` (or `AWS_ENDPOINT_URL`) for another endpoint, e.g. LocalStack.
 *
 * Against a real stream an example checks what the responses say (delivered, failed); the local checks
 * that need the emulator's ledger (lost records, order) are skipped, and said so.
 *
 *     KINESIS_STREAM=my-stream AWS_REGION=eu-west-1 npm run example:pipe
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { NamedStream } from '../../src/index.js';

export interface RealStream {
  readonly stream: NamedStream;
  /** The stream's name, else its ARN: what metrics count it under. */
  readonly label: string;
  /** The SDK's default client, configured from the environment. */
  readonly client: KinesisClient;
}

/** The stream named in the environment, or undefined (run locally). */
export function realStream(env: NodeJS.ProcessEnv = process.env): RealStream | undefined {
  const streamName = env.KINESIS_STREAM || undefined;
  const streamARN = env.KINESIS_STREAM_ARN || undefined;
  if (streamName === undefined && streamARN === undefined) return undefined;
  const stream = { streamName, streamARN } as NamedStream; // one of them is set
  return { stream, label: (streamName ?? streamARN)!, client: new KinesisClient({}) };
}

/** A client for the local emulator: its endpoint and region, placeholder credentials (nothing checks them). */
export function emulatorClient(emu: { readonly endpoint: string; readonly region: string }): KinesisClient {
  return new KinesisClient({
    endpoint: emu.endpoint,
    region: emu.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
