/**
 * Where `rx-kinesis put` takes a record's partition key (and explicit hash key) from: a field named by a
 * dotted path, a template of fields, or a random key.
 */

/**
 * Finds the value at a dotted path (`a.b.c`; a digit segment also indexes an array). A string is returned
 * as is, a finite number or boolean as its JSON text; anything else (absent, null, object) is `undefined`,
 * because a key made of `[object Object]` would silently route every such record to one shard.
 *
 * @example
 * ```ts
 * fieldAt({ device: { id: 'd-7' } }, 'device.id'); // 'd-7'
 * ```
 */
export function fieldAt(value: unknown, path: string): string | undefined {
  let at = value;
  for (const segment of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.prototype.hasOwnProperty.call(at, segment)) {
      return undefined;
    }
    if (Array.isArray(at) && !/^\d+$/.test(segment)) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  if (typeof at === 'string') return at;
  if ((typeof at === 'number' && Number.isFinite(at)) || typeof at === 'boolean') return String(at);
  return undefined;
}

/**
 * A parsed `--key-template`: literal text with `{path}` fields, `{{` and `}}` for literal braces.
 *
 * @example
 * ```ts
 * const key = compileTemplate('{device}-{reading.day}');
 * key({ device: 'd1', reading: { day: '2026-11-29' } }); // 'd1-2026-11-29'
 * ```
 */
export type KeyTemplate = (value: unknown) => string | undefined;

/**
 * Compiles a key template once; the function returns `undefined` when any field is missing (the record is
 * then invalid, as with `--key`). Throws a `SyntaxError` naming the position of a malformed template.
 *
 * @example
 * ```ts
 * compileTemplate('{tenant}/{user.id}')({ tenant: 't', user: { id: 42 } }); // 't/42'
 * ```
 */
export function compileTemplate(template: string): KeyTemplate {
  const parts: (string | { path: string })[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      literal += c;
      i++;
    } else if (c === '{') {
      const end = template.indexOf('}', i);
      const path = end < 0 ? '' : template.slice(i + 1, end);
      if (!/^[^{}.]+(\.[^{}.]+)*$/.test(path)) {
        throw new SyntaxError(`key template: expected {field.path} at position ${i + 1}`);
      }
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ path });
      i = end;
    } else if (c === '}') {
      throw new SyntaxError(`key template: unmatched } at position ${i + 1} (write }} for a literal one)`);
    } else {
      literal += c;
    }
  }
  if (literal) parts.push(literal);
  if (!parts.some((p) => typeof p !== 'string')) {
    throw new SyntaxError('key template: no {field} in it, so every record would get the same key');
  }
  return (value) => {
    let key = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        key += part;
      } else {
        const field = fieldAt(value, part.path);
        if (field === undefined) return undefined;
        key += field;
      }
    }
    return key;
  };
}

/**
 * A random partition key: 16 hex digits from a pooled random buffer. Spreads records evenly over every
 * shard, like the AWS CLI users' `$RANDOM` keys, at a quarter of a UUID's bytes (keys count against the
 * shard's byte quota).
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * const key = randomKeys(randomBytes);
 * key(); // e.g. '9f1c04be77a0d3e2'
 * ```
 */
export function randomKeys(random: (bytes: number) => Buffer): () => string {
  let pool: Buffer = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 8 > pool.length) {
      pool = random(8 * 1024);
      at = 0;
    }
    at += 8;
    return pool.toString('hex', at - 8, at);
  };
}
