/**
 * RocketMQ's SQL92 property filter (`expressionType=SQL92`): a boolean expression over message
 * properties. Supported, as RocketMQ documents it:
 *   comparisons  = <> != > >= < <=          BETWEEN a AND b, NOT BETWEEN
 *   membership   IN ('a','b'), NOT IN       IS NULL, IS NOT NULL
 *   text         CONTAINS, STARTSWITH, ENDSWITH (and NOT forms)
 *   logic        AND, OR, NOT, parentheses
 *   constants    integers, decimals, 'strings' ('' escapes a quote), TRUE, FALSE, NULL
 * Property values are strings; numeric comparisons parse them as numbers. Evaluation uses SQL's
 * three-valued logic: a missing property or a value that does not parse makes a comparison
 * unknown, and a message matches only when the whole expression is TRUE.
 */
export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
}

type Tri = boolean | null;
type Literal = string | number | boolean | null;

export type Sql92Node =
  | { k: 'lit'; v: Literal }
  | { k: 'prop'; name: string }
  | { k: 'and' | 'or'; a: Sql92Node; b: Sql92Node }
  | { k: 'not'; a: Sql92Node }
  | { k: 'cmp'; op: '=' | '<>' | '>' | '>=' | '<' | '<='; a: Sql92Node; b: Sql92Node }
  | { k: 'between'; not: boolean; a: Sql92Node; lo: Sql92Node; hi: Sql92Node }
  | { k: 'in'; not: boolean; a: Sql92Node; list: Literal[] }
  | { k: 'isnull'; not: boolean; a: Sql92Node }
  | { k: 'text'; op: 'CONTAINS' | 'STARTSWITH' | 'ENDSWITH'; not: boolean; a: Sql92Node; b: Sql92Node };

type Tok =
  | { t: 'id'; v: string; up: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'end'; pos: number };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'IS', 'NULL', 'TRUE', 'FALSE', 'CONTAINS', 'STARTSWITH', 'ENDSWITH']);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new FilterSyntaxError(`unterminated string starting at ${start}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += src[i++];
      }
      out.push({ t: 'str', v, pos: start });
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[lLdDfF]?/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ t: 'num', v: Number(m[0].replace(/[lLdDfF]$/, '')), pos: start });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_$.-]/.test(src[i]!)) i++;
      const v = src.slice(start, i);
      out.push({ t: 'id', v, up: v.toUpperCase(), pos: start });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<>' || two === '>=' || two === '<=' || two === '!=') {
      out.push({ t: 'op', v: two === '!=' ? '<>' : two, pos: start });
      i += 2;
      continue;
    }
    if ('=<>(),-+'.includes(c)) {
      out.push({ t: 'op', v: c, pos: start });
      i++;
      continue;
    }
    throw new FilterSyntaxError(`unexpected character ${JSON.stringify(c)} at ${i}`);
  }
  out.push({ t: 'end', pos: src.length });
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private kw(word: string): boolean {
    const t = this.peek();
    if (t.t === 'id' && t.up === word) {
      this.i++;
      return true;
    }
    return false;
  }
  private op(v: string): boolean {
    const t = this.peek();
    if (t.t === 'op' && t.v === v) {
      this.i++;
      return true;
    }
    return false;
  }
  private fail(what: string): never {
    const t = this.peek();
    const seen = t.t === 'end' ? 'end of expression' : `"${'v' in t ? String(t.v) : ''}"`;
    throw new FilterSyntaxError(`expected ${what} at ${t.pos}, found ${seen}`);
  }

  parse(): Sql92Node {
    const n = this.or();
    if (this.peek().t !== 'end') this.fail('end of expression');
    return n;
  }
  private or(): Sql92Node {
    let a = this.and();
    while (this.kw('OR')) a = { k: 'or', a, b: this.and() };
    return a;
  }
  private and(): Sql92Node {
    let a = this.not();
    while (this.kw('AND')) a = { k: 'and', a, b: this.not() };
    return a;
  }
  private not(): Sql92Node {
    if (this.kw('NOT')) return { k: 'not', a: this.not() };
    return this.predicate();
  }
  private predicate(): Sql92Node {
    if (this.op('(')) {
      const inner = this.or();
      if (!this.op(')')) this.fail('")"');
      return inner;
    }
    const a = this.operand();
    const t = this.peek();
    if (t.t === 'op' && ['=', '<>', '>', '>=', '<', '<='].includes(t.v)) {
      this.i++;
      return { k: 'cmp', op: t.v as '=', a, b: this.operand() };
    }
    if (this.kw('IS')) {
      const not = this.kw('NOT');
      if (!this.kw('NULL')) this.fail('NULL');
      return { k: 'isnull', not, a };
    }
    const not = this.kw('NOT');
    if (this.kw('BETWEEN')) {
      const lo = this.operand();
      if (!this.kw('AND')) this.fail('AND');
      return { k: 'between', not, a, lo, hi: this.operand() };
    }
    if (this.kw('IN')) {
      if (!this.op('(')) this.fail('"("');
      const list: Literal[] = [];
      do {
        const v = this.operand();
        if (v.k !== 'lit') this.fail('a constant');
        list.push(v.v);
      } while (this.op(','));
      if (!this.op(')')) this.fail('")"');
      return { k: 'in', not, a, list };
    }
    for (const op of ['CONTAINS', 'STARTSWITH', 'ENDSWITH'] as const) {
      if (this.kw(op)) return { k: 'text', op, not, a, b: this.operand() };
    }
    if (not) this.fail('BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH');
    // A bare boolean (TRUE, a property holding "true") is a predicate on its own.
    return a;
  }
  private operand(): Sql92Node {
    const t = this.peek();
    if (t.t === 'str') return (this.i++, { k: 'lit', v: t.v });
    if (t.t === 'num') return (this.i++, { k: 'lit', v: t.v });
    if (t.t === 'op' && (t.v === '-' || t.v === '+')) {
      this.i++;
      const n = this.peek();
      if (n.t !== 'num') this.fail('a number');
      this.i++;
      return { k: 'lit', v: t.v === '-' ? -n.v : n.v };
    }
    if (t.t === 'id') {
      this.i++;
      if (t.up === 'TRUE') return { k: 'lit', v: true };
      if (t.up === 'FALSE') return { k: 'lit', v: false };
      if (t.up === 'NULL') return { k: 'lit', v: null };
      if (KEYWORDS.has(t.up)) {
        this.i--;
        this.fail('a property or constant');
      }
      return { k: 'prop', name: t.v };
    }
    return this.fail('a property or constant');
  }
}

export function parseSql92(expression: string): Sql92Node {
  if (expression.trim() === '') throw new FilterSyntaxError('empty expression');
  return new Parser(tokenize(expression)).parse();
}

export type PropertyLookup = (name: string) => string | undefined;

function value(n: Sql92Node, get: PropertyLookup): Literal {
  if (n.k === 'lit') return n.v;
  if (n.k === 'prop') return get(n.name) ?? null;
  const r = evalTri(n, get);
  return r;
}

function toNumber(v: Literal): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function toBool(v: Literal): Tri {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  return null;
}

function compare(op: string, a: Literal, b: Literal): Tri {
  if (a === null || b === null) return null;
  if (op === '=' || op === '<>') {
    let eq: boolean;
    if (typeof a === 'number' || typeof b === 'number') {
      const x = toNumber(a);
      const y = toNumber(b);
      if (x === null || y === null) return null;
      eq = x === y;
    } else if (typeof a === 'boolean' || typeof b === 'boolean') {
      const x = toBool(a);
      const y = toBool(b);
      if (x === null || y === null) return null;
      eq = x === y;
    } else {
      eq = a === b;
    }
    return op === '=' ? eq : !eq;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === null || y === null) return null;
  switch (op) {
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    case '<':
      return x < y;
    default:
      return x <= y;
  }
}

function evalTri(n: Sql92Node, get: PropertyLookup): Tri {
  switch (n.k) {
    case 'lit':
      return toBool(n.v);
    case 'prop':
      return toBool(get(n.name) ?? null);
    case 'and': {
      const a = evalTri(n.a, get);
      if (a === false) return false;
      const b = evalTri(n.b, get);
      if (b === false) return false;
      return a === null || b === null ? null : true;
    }
    case 'or': {
      const a = evalTri(n.a, get);
      if (a === true) return true;
      const b = evalTri(n.b, get);
      if (b === true) return true;
      return a === null || b === null ? null : false;
    }
    case 'not': {
      const a = evalTri(n.a, get);
      return a === null ? null : !a;
    }
    case 'cmp':
      return compare(n.op, value(n.a, get), value(n.b, get));
    case 'between': {
      const v = value(n.a, get);
      const lo = compare('>=', v, value(n.lo, get));
      const hi = compare('<=', v, value(n.hi, get));
      const r: Tri = lo === false || hi === false ? false : lo === null || hi === null ? null : true;
      return r === null ? null : n.not ? !r : r;
    }
    case 'in': {
      const v = value(n.a, get);
      if (v === null) return null;
      const hit = n.list.some((x) => compare('=', v, x) === true);
      return n.not ? !hit : hit;
    }
    case 'isnull': {
      const isNull = value(n.a, get) === null;
      return n.not ? !isNull : isNull;
    }
    case 'text': {
      const a = value(n.a, get);
      const b = value(n.b, get);
      if (typeof a !== 'string' || typeof b !== 'string') return null;
      const r = n.op === 'CONTAINS' ? a.includes(b) : n.op === 'STARTSWITH' ? a.startsWith(b) : a.endsWith(b);
      return n.not ? !r : r;
    }
  }
}

/** A compiled SQL92 filter. `matches` is true only when the expression evaluates to TRUE. */
export class Sql92Filter {
  readonly ast: Sql92Node;
  constructor(readonly expression: string) {
    this.ast = parseSql92(expression);
  }
  matches(get: PropertyLookup): boolean {
    return evalTri(this.ast, get) === true;
  }
}
