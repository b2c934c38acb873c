/** The specs' mosquitto lives in examples/support (the MQTT bridge example starts one too). */
import { mosquittoMissing } from '../../examples/support/mosquitto.js';
import { requireTool } from './required-tool.js';

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
  return requireTool(context, mosquittoMissing(), 'the MQTT specs');
}
