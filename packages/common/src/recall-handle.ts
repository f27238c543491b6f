/**
 * The recall handle of a timer (delay) message: what a producer needs to cancel it before it is due.
 * Version 1 is the URL-safe base64 (no padding) of five space-separated fields:
 * `v1 <topic> <brokerName> <timestamp> <messageId>`, where timestamp is the message's slot time + 1
 * (a recall marker filed at that time lands in the same slot) and messageId its UNIQ_KEY.
 */
export interface RecallHandle {
  version: 'v1';
  topic: string;
  brokerName: string;
  /** Kept as the decimal string it travels as. */
  timestamp: string;
  messageId: string;
}

export function encodeRecallHandle(topic: string, brokerName: string, timestamp: string | number, messageId: string): string {
  return Buffer.from(`v1 ${topic} ${brokerName} ${timestamp} ${messageId}`, 'utf8').toString('base64url');
}

/** The handle's fields, or an error naming what is wrong with it. */
export function decodeRecallHandle(handle: string): RecallHandle | Error {
  if (handle.trim() === '') return new Error('recall handle is empty');
  // Either base64 alphabet, with or without padding.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(handle)) return new Error('recall handle is not base64');
  const text = Buffer.from(handle.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url').toString('utf8');
  const items = text.split(' ');
  if (items.length < 5 || items[0] !== 'v1') return new Error('recall handle is invalid');
  const [, topic, brokerName, timestamp, messageId] = items as [string, string, string, string, string];
  if (topic === '' || brokerName === '' || messageId === '' || !/^-?\d+$/.test(timestamp)) return new Error('recall handle is invalid');
  return { version: 'v1', topic, brokerName, timestamp, messageId };
}
