/**
 * The PutRecords entries sent without an HTTP answer (a reset connection): the emulator may have applied
 * them, so a resend can land a second copy. Shared by the soak (which bounds duplicates by them) and the
 * specs (spec/support/emulator-kit.ts's `trackUnanswered`); it lives in bench/ because bench/ imports
 * nothing from spec/.
 */
import type { KinesisClient, PutRecordsInput, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

/**
 * Calls `onEntry` for every entry of a PutRecords attempt that failed with no HTTP status. Sits inside the
 * SDK's retry loop (`finalizeRequest`), so the SDK's own retries are seen too.
 *
 * @example
 * ```ts
 * let unanswered = 0;
 * onUnanswered(client, 'countUnanswered', () => unanswered++);
 * ```
 */
export function onUnanswered(
  client: KinesisClient,
  name: string,
  onEntry: (entry: PutRecordsRequestEntry) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const answered = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (context.commandName === 'PutRecordsCommand' && answered === undefined) {
          for (const entry of (args.input as PutRecordsInput).Records ?? []) onEntry(entry);
        }
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name },
  );
}
