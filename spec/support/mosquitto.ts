/** The specs' mosquitto lives in examples/support (the MQTT bridge example starts one too). */
import { mosquittoMissing } from '../../examples/support/mosquitto.js';

export * from '../../examples/support/mosquitto.js';

/**
 * Whether the MQTT specs can run. Outside CI a missing broker skips them, loudly; in CI (`CI` set) it is
 * an error, so a green CI run always means they ran.
 *
 * @example
 * ```ts
 * before(function () {
 *   if (!mosquittoAvailable(this)) return; // skipped, with the reason printed
 * });
 * ```
 */
export function mosquittoAvailable(context: Mocha.Context): boolean {
  const why = mosquittoMissing();
  if (why === undefined) return true;
  if (process.env.CI) throw new Error(`${why}: CI must run the MQTT specs (.ci/run installs it)`);
  console.warn(`\n  ************************************************************`);
  console.warn(`  SKIPPED: ${why}`);
  console.warn(`  ************************************************************\n`);
  context.skip();
  return false;
}
