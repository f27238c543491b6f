import { describe, expect, it } from '@jest/globals';
import { ResponseCode } from '@rocketmq-ts/protocol';
import { GetMessageStatus, PutMessageStatus, type GetMessageResult } from '@rocketmq-ts/store';
import { coalesceAdjacent, statusToCode } from './pull.processor.js';
import { putStatusReply, removeProperty, replaceProperty } from './send.processor.js';

const r = (status: GetMessageStatus, nextBeginOffset: number): GetMessageResult => ({
  status,
  nextBeginOffset,
  minOffset: 0,
  maxOffset: 10,
  messageBuffers: [],
  messageQueueOffsets: [],
  bufferTotalSize: 0,
});

describe('pull status → response code (remoting.md §3.3)', () => {
  it.each([
    [GetMessageStatus.FOUND, 5, 3, ResponseCode.SUCCESS, 5],
    [GetMessageStatus.NO_MATCHED_MESSAGE, 9, 3, ResponseCode.PULL_RETRY_IMMEDIATELY, 9],
    [GetMessageStatus.MESSAGE_WAS_REMOVING, 9, 3, ResponseCode.PULL_RETRY_IMMEDIATELY, 9],
    [GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, 0, ResponseCode.PULL_NOT_FOUND, 0],
    [GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, 7, ResponseCode.PULL_OFFSET_MOVED, 0],
    [GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, 0, 7, ResponseCode.PULL_OFFSET_MOVED, 0],
    [GetMessageStatus.OFFSET_TOO_SMALL, 4, 1, ResponseCode.PULL_OFFSET_MOVED, 4],
    [GetMessageStatus.OFFSET_OVERFLOW_ONE, 10, 10, ResponseCode.PULL_NOT_FOUND, 10],
    [GetMessageStatus.OFFSET_OVERFLOW_BADLY, 10, 50, ResponseCode.PULL_OFFSET_MOVED, 10],
    [GetMessageStatus.OFFSET_FOUND_NULL, 3, 3, ResponseCode.PULL_NOT_FOUND, 3],
  ])('%s (next %i, asked %i) → %i, next %i', (status, next, asked, code, expectedNext) => {
    expect(statusToCode(r(status, next), asked)).toEqual([code, expectedNext]);
  });
});

describe('put status → response code (remoting.md §3.2)', () => {
  it('maps every store status', () => {
    expect(putStatusReply(PutMessageStatus.PUT_OK)[0]).toBe(ResponseCode.SUCCESS);
    expect(putStatusReply(PutMessageStatus.FLUSH_DISK_TIMEOUT)[0]).toBe(ResponseCode.FLUSH_DISK_TIMEOUT);
    expect(putStatusReply(PutMessageStatus.FLUSH_SLAVE_TIMEOUT)[0]).toBe(ResponseCode.FLUSH_SLAVE_TIMEOUT);
    expect(putStatusReply(PutMessageStatus.SLAVE_NOT_AVAILABLE)[0]).toBe(ResponseCode.SLAVE_NOT_AVAILABLE);
    expect(putStatusReply(PutMessageStatus.MESSAGE_ILLEGAL)[0]).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(putStatusReply(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED)[0]).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(putStatusReply(PutMessageStatus.SERVICE_NOT_AVAILABLE)[0]).toBe(ResponseCode.SERVICE_NOT_AVAILABLE);
    expect(putStatusReply(PutMessageStatus.OS_PAGE_CACHE_BUSY)[0]).toBe(ResponseCode.SYSTEM_BUSY);
    expect(putStatusReply(PutMessageStatus.UNKNOWN_ERROR)[0]).toBe(ResponseCode.SYSTEM_ERROR);
  });
});

describe('properties string edits', () => {
  const S1 = '\u0001';
  const S2 = '\u0002';
  it('removes and replaces one property, keeping the others and the trailing separator', () => {
    const p = `TAGS${S1}a${S2}DELAY${S1}3${S2}KEYS${S1}k${S2}`;
    expect(removeProperty(p, 'DELAY')).toBe(`TAGS${S1}a${S2}KEYS${S1}k${S2}`);
    expect(removeProperty(p, 'NOPE')).toBe(p);
    expect(removeProperty(`DELAY${S1}3`, 'DELAY')).toBe('');
    expect(replaceProperty(p, 'DELAY', '5')).toBe(`TAGS${S1}a${S2}KEYS${S1}k${S2}DELAY${S1}5${S2}`);
    // A key that is a prefix of another is not touched.
    expect(removeProperty(`DELAYX${S1}1${S2}DELAY${S1}2${S2}`, 'DELAY')).toBe(`DELAYX${S1}1${S2}`);
  });
});

describe('pull reply body parts', () => {
  it('joins slices that lie back to back in one buffer and keeps the rest apart, in order', () => {
    // Buffers of their own (small Buffer.from results may sit side by side in Node's pool).
    const span = Buffer.alloc(16, 'aaaabbbbccccdddd');
    const other = Buffer.alloc(8, 'xxxxyyyy');
    const parts = [span.subarray(0, 4), span.subarray(4, 8), span.subarray(12, 16), other.subarray(0, 4), other.subarray(4, 8), span.subarray(8, 12)];
    const joined = coalesceAdjacent(parts);
    expect(joined.map((b) => b.toString())).toEqual(['aaaabbbb', 'dddd', 'xxxxyyyy', 'cccc']);
    expect(Buffer.concat(joined)).toEqual(Buffer.concat(parts));
    // Views, not copies: the joined run shares the span's memory.
    expect(joined[0]!.buffer).toBe(span.buffer);
    const single = [span.subarray(0, 4)];
    expect(coalesceAdjacent(single)).toBe(single);
  });
});
