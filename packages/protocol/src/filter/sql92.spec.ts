import { describe, expect, it } from '@jest/globals';
import { FilterSyntaxError, Sql92Filter, parseSql92 } from './sql92.js';
import { parseTagExpression } from './tag.js';

const props = (o: Record<string, string>) => (k: string) => o[k];

describe('SQL92 filter', () => {
  const msg = props({ a: '5', b: 'red', TAGS: 'TagA', price: '12.5', flag: 'true', neg: '-3' });
  const cases: [string, boolean][] = [
    ['a > 3', true],
    ['a >= 5 AND a <= 5', true],
    ['a < 5', false],
    ['a = 5', true],
    ['a <> 5', false],
    ['a != 4', true],
    ['a BETWEEN 1 AND 10', true],
    ['a NOT BETWEEN 1 AND 10', false],
    ['price > 12.25', true],
    ['neg < -2', true],
    ["b = 'red'", true],
    ["b <> 'red'", false],
    ["b IN ('blue', 'red')", true],
    ["b NOT IN ('blue', 'red')", false],
    ["TAGS = 'TagA' AND (a > 10 OR b = 'red')", true],
    ['missing IS NULL', true],
    ['a IS NOT NULL', true],
    ['a IS NULL', false],
    // Unknown (missing property) never matches, even negated.
    ['missing > 1', false],
    ['NOT (missing > 1)', false],
    ['missing > 1 OR a = 5', true],
    ['missing > 1 AND a = 5', false],
    // A non-numeric value in a numeric comparison is unknown.
    ['b > 1', false],
    ['NOT b > 1', false],
    ["b CONTAINS 'e'", true],
    ["b STARTSWITH 're'", true],
    ["b ENDSWITH 'x'", false],
    ["b NOT CONTAINS 'x'", true],
    ['flag = TRUE', true],
    ['flag', true],
    ['TRUE', true],
    ['FALSE OR a = 5', true],
    ["b = 'it''s'", false],
    ["not a = 4 and b = 'red'", true],
  ];
  it.each(cases)('%s → %s', (expr, expected) => {
    expect(new Sql92Filter(expr).matches(msg)).toBe(expected);
  });

  it('reports syntax errors with a position', () => {
    for (const bad of ['', 'a >', 'a = = 1', "b = 'open", '(a = 1', 'a IN ()', 'a BETWEEN 1', 'a # 1', 'AND a = 1', 'a NOT 1']) {
      expect(() => parseSql92(bad)).toThrow(FilterSyntaxError);
    }
    expect(() => parseSql92('a >')).toThrow(/at 3/);
  });
});

describe('tag expressions', () => {
  it('parses *, empty and alternatives with Java hash codes', () => {
    expect(parseTagExpression('*').all).toBe(true);
    expect(parseTagExpression(null).all).toBe(true);
    expect(parseTagExpression(' || ').all).toBe(true);
    const t = parseTagExpression(' TagA || TagB ||TagA');
    expect(t).toEqual({ all: false, tags: ['TagA', 'TagB'], codes: [2598919, 2598920] });
  });
});
