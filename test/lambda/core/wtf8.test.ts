import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWtf8, encodeWtf8 } from '../../../lambda/core/wtf8';

describe('WTF-8 payload bytes', () => {
  it('writes a lone surrogate as the three bytes of its code point, which UTF-8 decoding refuses', () => {
    expect(encodeWtf8('a\ud800b').toString('hex')).toBe('61eda08062');
    expect(encodeWtf8('\udc00').toString('hex')).toBe('edb080');
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(encodeWtf8('\ud800'))).toThrow();
  });

  it('writes well-formed text as UTF-8, surrogate pairs included', () => {
    expect(encodeWtf8('x\u{1f600}é')).toEqual(Buffer.from('x\u{1f600}é', 'utf8'));
    expect(encodeWtf8('\ud800\ud800\udc00').toString('hex')).toBe('eda080f0908080');
  });

  it('decodes back to the same string, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.array(fc.integer({ min: 0xd800, max: 0xdfff }), { maxLength: 4 }), (s, lone) => {
        const text = lone.reduce((acc, c, i) => acc.slice(0, i * 3) + String.fromCharCode(c) + acc.slice(i * 3), s);
        expect(decodeWtf8(encodeWtf8(text))).toBe(text);
      }),
      { numRuns: 100 },
    );
  });
});
