import { javaStringHashCode } from '../message/hash.js';

/** `*` (or empty): every message. */
export const SUB_ALL = '*';

export interface TagSubscription {
  /** True for `*` / empty: no tag filtering. */
  all: boolean;
  tags: string[];
  /** Java String.hashCode of each tag: what the consume queue stores and the broker compares. */
  codes: number[];
}

/** Parses a tag expression like `tagA || tagB` (split on `||`, trimmed, empties dropped). */
export function parseTagExpression(expression: string | null | undefined): TagSubscription {
  const e = (expression ?? '').trim();
  if (e === '' || e === SUB_ALL) return { all: true, tags: [], codes: [] };
  const tags: string[] = [];
  for (const part of e.split('||')) {
    const t = part.trim();
    if (t !== '' && !tags.includes(t)) tags.push(t);
  }
  if (tags.length === 0) return { all: true, tags: [], codes: [] };
  return { all: false, tags, codes: tags.map(javaStringHashCode) };
}
