/**
 * Bytes for payload strings that hold lone UTF-16 surrogates, which UTF-8 cannot encode (Buffer.from would turn
 * each into U+FFFD, a valid character, and so change how the consumer judges the record). Each lone surrogate is
 * written as the three bytes its code point would take (WTF-8): invalid UTF-8, as the replay judges the string,
 * and decoded back to the very same string when the dead letter is read back.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function encodeWtf8(s: string): Buffer {
  if (s.isWellFormed()) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (const m of s.matchAll(LONE_SURROGATE)) {
    const c = m[0].charCodeAt(0);
    parts.push(Buffer.from(s.slice(from, m.index), 'utf8'), Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]));
    from = m.index + 1;
  }
  parts.push(Buffer.from(s.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

/** The inverse of encodeWtf8; any other invalid byte becomes U+FFFD, as in a plain UTF-8 decode. */
export function decodeWtf8(b: Uint8Array): string {
  let out = '';
  let from = 0;
  for (let i = 0; i + 2 < b.length; i++) {
    // ED A0..BF 80..BF: a surrogate code point, U+D800 to U+DFFF.
    if (b[i] === 0xed && (b[i + 1]! & 0xe0) === 0xa0 && (b[i + 2]! & 0xc0) === 0x80) {
      out += Buffer.from(b.subarray(from, i)).toString('utf8') + String.fromCharCode(0xd000 | ((b[i + 1]! & 0x3f) << 6) | (b[i + 2]! & 0x3f));
      from = i + 3;
      i += 2;
    }
  }
  return out + Buffer.from(b.subarray(from)).toString('utf8');
}
