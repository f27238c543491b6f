import { describe, expect, it } from '@jest/globals';
import { encodeMessageRecordToBuffer, javaStringHashCode, parseTagExpression } from '@rocketmq-ts/protocol';
import type { SubscriptionData } from '../client/consumer-manager.js';
import { arrivalMatcher, filterFor, recordProperties } from './message-filter.js';

const sub = (subString: string, expressionType = 'TAG'): SubscriptionData => {
  const t = expressionType === 'TAG' ? parseTagExpression(subString) : { tags: [], codes: [] };
  return { topic: 'T', subString, tagsSet: t.tags, codeSet: t.codes, subVersion: 1, expressionType, classFilterMode: false };
};

function record(props: string): Buffer {
  return encodeMessageRecordToBuffer({
    topic: 'T',
    queueId: 0,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: { address: '127.0.0.1', port: 1 },
    storeTimestamp: 2,
    storeHost: { address: '127.0.0.1', port: 2 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from('b'),
    properties: props,
  });
}

describe('filterFor / arrivalMatcher', () => {
  it('* needs no filter; tags compare hashes; the filter is built once per subscription', () => {
    expect(filterFor(sub('*'))).toBeUndefined();
    expect(arrivalMatcher(sub('*'))).toBeUndefined();
    const s = sub('a || b');
    const f = filterFor(s)!;
    expect(f.isMatchedByConsumeQueue(javaStringHashCode('a'))).toBe(true);
    expect(f.isMatchedByConsumeQueue(javaStringHashCode('c'))).toBe(false);
    expect(filterFor(s)).toBe(f);
    expect(arrivalMatcher(s)!(javaStringHashCode('b'), undefined)).toBe(true);
  });

  it('SQL92 reads the record properties, and the arriving properties string', () => {
    const s = sub("color = 'red' AND n > 2", 'SQL92');
    const f = filterFor(s)!;
    expect(f.isMatchedByCommitLog!(record('color\u0001red\u0002n\u00013\u0002'))).toBe(true);
    expect(f.isMatchedByCommitLog!(record('color\u0001red\u0002n\u00011\u0002'))).toBe(false);
    expect(f.isMatchedByCommitLog!(record(''))).toBe(false);
    const m = arrivalMatcher(s)!;
    expect(m(0, 'color\u0001red\u0002n\u00015\u0002')).toBe(true);
    expect(m(0, 'color\u0001blue\u0002')).toBe(false);
    expect(recordProperties(record('k\u0001v\u0002')).get('k')).toBe('v');
  });
});
