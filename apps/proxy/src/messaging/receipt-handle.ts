import { buildExtraInfo, parseExtraInfo, type ExtraInfo } from '@rocketmq-ts/protocol';
import { Code, ProxyError } from '../grpc/status.js';

/**
 * A gRPC receipt handle as RocketMQ's proxy builds it: the broker's POP_CK (8 fields: ck queue
 * offset, pop time, invisible time, revive queue, topic flag, broker, queue id, message offset)
 * then the message's commit-log offset.
 */
export interface ReceiptHandle extends ExtraInfo {
  offset: number;
  commitLogOffset: number;
  /** The 8-field POP_CK the broker understands. */
  extraInfo: string;
  /** When the message becomes visible again (popTime + invisibleTime). */
  nextVisibleTime: number;
}

export function encodeReceiptHandle(extraInfo: string, commitLogOffset: number): string {
  return `${extraInfo} ${commitLogOffset}`;
}

/** Parses a handle; undefined when it is not one. */
export function decodeReceiptHandle(handle: string): ReceiptHandle | undefined {
  const f = handle.trim().split(' ');
  if (f.length < 8) return undefined;
  const e = parseExtraInfo(f.slice(0, 8).join(' '));
  if (e === undefined || e.offset === undefined) return undefined;
  const clo = f.length >= 9 ? Number(f[8]) : -1;
  return {
    ...e,
    offset: e.offset,
    commitLogOffset: Number.isInteger(clo) ? clo : -1,
    extraInfo: buildExtraInfo({ ...e }),
    nextVisibleTime: e.popTime + e.invisibleTime,
  };
}

/** Parses and checks expiry: INVALID_RECEIPT_HANDLE for a malformed or expired handle. */
export function requireReceiptHandle(handle: string | undefined, now: number): ReceiptHandle {
  const h = decodeReceiptHandle(handle ?? '');
  if (h === undefined) throw new ProxyError(Code.INVALID_RECEIPT_HANDLE, 'receipt handle is malformed');
  if (h.nextVisibleTime <= now) throw new ProxyError(Code.INVALID_RECEIPT_HANDLE, 'receipt handle is expired');
  return h;
}
