/**
 * The one deliberate skip of the suite: a spec that needs a system tool (the AWS CLI, mosquitto) skips,
 * loudly, when it is missing on a developer's machine; in CI (`CI` set) a missing tool is an error instead,
 * so a green CI run always means those specs ran (`.ci/run` installs both).
 *
 * @example
 * ```ts
 * before(function () {
 *   if (!requireTool(this, existsSync('/usr/bin/aws') ? undefined : 'aws not installed', 'the AWS CLI specs'))
 *     return;
 * });
 * ```
 */
export function requireTool(context: Mocha.Context, missing: string | undefined, specs: string): boolean {
  if (missing === undefined) return true;
  if (process.env.CI) throw new Error(`${missing}: CI must run ${specs} (.ci/run installs it)`);
  console.warn(`\n  ************************************************************`);
  console.warn(`  SKIPPED: ${missing}`);
  console.warn(`  ************************************************************\n`);
  context.skip();
  return false;
}
