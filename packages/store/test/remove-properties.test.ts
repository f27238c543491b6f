import { describe, expect, it } from '@jest/globals';
import { removeProperties } from '../src/index.js';

const S1 = '\u0001';
const S2 = '\u0002';

/** The definition: every non-empty pair whose name is not in `names`, each followed by S2. */
function reference(props: string, names: readonly string[]): string {
  let out = '';
  for (const pair of props.split(S2)) {
    if (pair.length === 0) continue;
    const i = pair.indexOf(S1);
    const name = i < 0 ? pair : pair.slice(0, i);
    if (!names.includes(name)) out += pair + S2;
  }
  return out;
}

describe('removeProperties', () => {
  it('drops the named pairs wherever they are and keeps the rest in order', () => {
    const p = `REAL_TOPIC${S1}t${S2}KEYS${S1}k1 k2${S2}REAL_QID${S1}3${S2}TRAN_MSG${S1}true${S2}PGROUP${S1}g${S2}`;
    expect(removeProperties(p, ['REAL_TOPIC', 'REAL_QID', 'TRAN_MSG'])).toBe(`KEYS${S1}k1 k2${S2}PGROUP${S1}g${S2}`);
    expect(removeProperties(p, [])).toBe(p);
    expect(removeProperties('', ['A'])).toBe('');
    // A last pair without its separator gets one; a name that is a prefix of another is not it.
    expect(removeProperties(`AB${S1}1${S2}A${S1}2`, ['A'])).toBe(`AB${S1}1${S2}`);
    expect(removeProperties(`AB${S1}1${S2}A${S1}2`, ['AB'])).toBe(`A${S1}2${S2}`);
    expect(removeProperties(`${S2}${S2}X${S1}1${S2}${S2}`, [])).toBe(`X${S1}1${S2}`);
  });

  it('agrees with the definition on random property strings', () => {
    const alphabet = ['A', 'B', 'AB', 'TAGS', 'KEYS', '', 'é', S1, S2, S2, S1];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      let p = '';
      for (let k = rnd(12); k > 0; k--) p += alphabet[rnd(alphabet.length)]!;
      const names = [['A'], ['AB', 'TAGS'], [''], ['KEYS', 'B', 'é'], []][rnd(5)]!;
      expect(removeProperties(p, names)).toBe(reference(p, names));
    }
  });
});
