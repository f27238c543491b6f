import { HeaderError } from '../errors.js';
import type { ExtFields } from '../remoting-command.js';

/**
 * Typed request/response headers ("custom headers" carried in extFields). A header is declared
 * once as data — field name, wire type, required or not — and `defineHeader` derives both the
 * TypeScript type and a decoder/encoder. Decoding coerces what clients actually send: strings
 * (Java), JSON numbers and booleans (some other clients). `long` values are JS numbers: offsets
 * and timestamps stay far below 2^53.
 */
export type FieldType = 'string' | 'int' | 'long' | 'bool' | 'double';
export interface FieldSpec {
  readonly t: FieldType;
  /** Required (Java's @CFNotNull): a missing value fails the decode, naming the field. */
  readonly req?: boolean;
}
export type HeaderSpec = Readonly<Record<string, FieldSpec>>;

type ValueOf<F extends FieldSpec> = F['t'] extends 'string' ? string : F['t'] extends 'bool' ? boolean : number;
type RequiredKeys<S extends HeaderSpec> = { [K in keyof S]: S[K]['req'] extends true ? K : never }[keyof S];
type OptionalKeys<S extends HeaderSpec> = Exclude<keyof S, RequiredKeys<S>>;
export type HeaderOf<S extends HeaderSpec> = { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> };

export interface HeaderCodec<H> {
  readonly name: string;
  readonly spec: HeaderSpec;
  /** Reads a header from extFields; throws HeaderError naming the first bad or missing field. */
  decode(ext: ExtFields | null | undefined): H;
  /** Writes every present field as a string, as Java does. */
  encode(h: H): Record<string, string>;
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/**
 * Decimal digits with an optional '-' and at most 15 digits (exact in a double, so the same
 * value Number() gives); NaN for anything else, which then takes the general path.
 */
function plainInteger(s: string): number {
  const n = s.length;
  let i = 0;
  let neg = false;
  if (n > 0 && s.charCodeAt(0) === 45) {
    neg = true;
    i = 1;
  }
  if (n === i || n - i > 15) return NaN;
  let v = 0;
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

function coerce(name: string, header: string, t: FieldType, v: string | number | boolean): string | number | boolean {
  if ((t === 'int' || t === 'long') && typeof v === 'string') {
    const n = plainInteger(v);
    // -0 is left to the general path (Number('-0') is -0 too, but keep one definition of it).
    if (n === n && (n !== 0 || v.length === 1) && (t === 'long' || (n >= INT_MIN && n <= INT_MAX))) return n;
  }
  switch (t) {
    case 'string':
      return typeof v === 'string' ? v : String(v);
    case 'bool':
      // Java's Boolean.parseBoolean: only "true" (any case) is true.
      return typeof v === 'boolean' ? v : typeof v === 'string' ? v.length === 4 && v.toLowerCase() === 'true' : v !== 0;
    case 'int':
    case 'long':
    case 'double': {
      let n: number;
      if (typeof v === 'number') {
        n = v;
      } else if (typeof v === 'boolean') {
        n = NaN;
      } else {
        const s = v.trim();
        n = s === '' ? NaN : Number(s);
      }
      if (t === 'double' ? !Number.isFinite(n) : !Number.isInteger(n)) {
        throw new HeaderError(name, `the custom field ${name} of ${header} is not a valid ${t}: ${JSON.stringify(v)}`);
      }
      if (t === 'int' && (n < INT_MIN || n > INT_MAX)) {
        throw new HeaderError(name, `the custom field ${name} of ${header} is out of int range: ${n}`);
      }
      return n;
    }
  }
}

/**
 * One field for hand-written decoders of hot headers: the same checks, coercion and error text
 * as `defineHeader(...).decode`, with the extFields lookup left at the call site (a named
 * property load there stays monomorphic; a shared keyed lookup does not).
 */
export function headerField(
  v: string | number | boolean | null | undefined,
  name: string,
  header: string,
  t: FieldType,
  req: boolean,
): string | number | boolean | undefined {
  if (v === undefined || v === null) {
    if (req) throw new HeaderError(name, `the custom field ${name} is null (required by ${header})`);
    return undefined;
  }
  return coerce(name, header, t, v);
}

export function defineHeader<const S extends HeaderSpec>(name: string, spec: S): HeaderCodec<HeaderOf<S>> {
  const fields = Object.entries(spec) as [string, FieldSpec][];
  return {
    name,
    spec,
    decode(ext) {
      const out: Record<string, string | number | boolean> = {};
      for (let i = 0; i < fields.length; i++) {
        const [f, s] = fields[i]!;
        const v = ext?.[f];
        if (v === undefined || v === null) {
          if (s.req) throw new HeaderError(f, `the custom field ${f} is null (required by ${name})`);
          continue;
        }
        out[f] = coerce(f, name, s.t, v);
      }
      return out as HeaderOf<S>;
    },
    encode(h) {
      const out: Record<string, string> = {};
      const src = h as Record<string, unknown>;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]![0];
        const v = src[f];
        if (v !== undefined && v !== null) out[f] = String(v);
      }
      return out;
    },
  };
}
