import { describe, expect, it } from '@jest/globals';
import { RemotingCommand, encodeCommand } from '@rocketmq-ts/protocol';
import {
  fastjsonString,
  javaFrame,
  javaHashMapOrder,
  javaJsonHeader,
  javaPropertiesString,
  javaPullExt,
  javaSendV2Ext,
  javaStringHash,
} from './java-frames.js';

describe('Java framing facts', () => {
  it('hashes strings as java.lang.String does', () => {
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('a')).toBe(97);
    expect(javaStringHash('hello')).toBe(99162322);
    expect(javaStringHash('Aa')).toBe(javaStringHash('BB'));
    // Long strings wrap at 32 bits as Java's int arithmetic does.
    expect(javaStringHash('polygenelubricants')).toBe(-2147483648);
  });

  it('orders HashMap keys by bucket, then by insertion', () => {
    // Single letters land in buckets 1..14 in order, whatever the insertion order.
    expect(javaHashMapOrder(['n', 'm', 'k', 'j', 'i', 'h', 'g', 'f', 'e', 'd', 'c', 'b', 'a'])).toEqual('abcdefghijkmn'.split(''));
    expect(javaHashMapOrder(['TAGS', 'WAIT', 'UNIQ_KEY'])).toEqual(['UNIQ_KEY', 'WAIT', 'TAGS']);
    // Same bucket (26 of 32): insertion order decides.
    expect(javaHashMapOrder(['queueOffset', 'expressionType', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k']).slice(-2)).toEqual([
      'queueOffset',
      'expressionType',
    ]);
  });

  it('lays out the pull header as a Java pull consumer sends it', () => {
    const ext = javaPullExt({ group: 'g', topic: 'T', queueId: 1, queueOffset: 64, maxMsgNums: 32, brokerName: 'b' });
    expect(Object.keys(ext)).toEqual([
      'queueId',
      'maxMsgBytes',
      'maxMsgNums',
      'sysFlag',
      'commitOffset',
      'subscription',
      'suspendTimeoutMillis',
      'bname',
      'topic',
      'queueOffset',
      'expressionType',
      'subVersion',
      'consumerGroup',
    ]);
  });

  it('escapes strings as fastjson does', () => {
    expect(fastjsonString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(fastjsonString('\u0001\u0002\u000b\u001f\u007f\u0085')).toBe('"\\u0001\\u0002\\u000B\\u001F\\u007F\\u0085"');
    expect(fastjsonString('\b\t\n\f\r/é')).toBe('"\\b\\t\\n\\f\\r/é"');
  });

  it('writes the RemotingCommand bean fields in alphabetical order', () => {
    expect(javaJsonHeader({ code: 11, opaque: 5, flag: 0, version: 479, extFields: { x: '1' } })).toBe(
      '{"code":11,"extFields":{"x":"1"},"flag":0,"language":"JAVA","opaque":5,"serializeTypeCurrentRPC":"JSON","version":479}',
    );
    expect(javaJsonHeader({ code: 0, opaque: 5, flag: 1, version: 479, remark: 'ok', extFields: null })).toBe(
      '{"code":0,"flag":1,"language":"JAVA","opaque":5,"remark":"ok","serializeTypeCurrentRPC":"JSON","version":479}',
    );
  });

  it('our SDK frames the bench send the same way (what the bench asserts before measuring)', () => {
    const ext = javaSendV2Ext({
      producerGroup: 'pg',
      topic: 'T',
      defaultTopicQueueNums: 4,
      queueId: 2,
      bornTimestamp: 1700000000000,
      properties: javaPropertiesString([
        ['TAGS', 'x'],
        ['WAIT', 'true'],
        ['UNIQ_KEY', '7F00000100001B2C3D4E000000010001'],
      ]),
      brokerName: 'b',
    });
    const body = Buffer.from('payload');
    const cmd = new RemotingCommand(310, 9, ext, body);
    cmd.language = 'JAVA';
    cmd.version = 479;
    const java = javaFrame({ code: 310, opaque: 9, flag: 0, version: 479, extFields: ext }, body);
    expect(encodeCommand(cmd)).toEqual(java);
    expect(java.subarray(8, java.length - body.length).toString()).toContain(
      '"i":"UNIQ_KEY\\u00017F00000100001B2C3D4E000000010001\\u0002WAIT\\u0001true\\u0002TAGS\\u0001x\\u0002","j":"0","k":"false","m":"false","n":"b"}',
    );
  });
});
