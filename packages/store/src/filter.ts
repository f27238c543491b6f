// Tag filter for getMessage: consume-queue tags codes against the subscription's hash set, then exact tags.
import { MessageConst } from '@rocketmq-ts/common';
import { findProperty, javaStringHashCode, checkMessageRecord } from '@rocketmq-ts/protocol';
import type { MessageFilter } from './message-store.js';

/** Subscribes to `tags` ('*' or an empty list = everything), matching RocketMQ's `a || b` expressions. */
export function tagFilter(tags: readonly string[] | '*'): MessageFilter | undefined {
  if (tags === '*' || tags.length === 0 || tags.includes('*')) return undefined;
  const codes = new Set(tags.map((t) => javaStringHashCode(t)));
  const set = new Set(tags);
  return {
    isMatchedByConsumeQueue: (code) => codes.has(code),
    isMatchedByCommitLog: (record) => {
      const r = checkMessageRecord(record, 0, record.length);
      if (r.kind !== 'record') return false;
      const t = findProperty(r.info.propertiesString, MessageConst.PROPERTY_TAGS);
      return t !== undefined && set.has(t);
    },
  };
}
