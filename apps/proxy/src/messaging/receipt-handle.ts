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
  const t = handle.trim();
  // The first 8 fields are the POP_CK; the 9th (if any) the commit-log offset.
  let end = -1;
  for (let i = 0; i < 8; i++) {
    end = t.indexOf(' ', end + 1);
    if (end < 0) break;
  }
  if (end < 0 && t.split(' ').length < 8) return undefined;
  const e = parseExtraInfo(end < 0 ? t : t.slice(0, end));
  if (e === undefined || e.offset === undefined) return undefined;
  let clo = -1;
  if (end >= 0) {
    const next = t.indexOf(' ', end + 1);
    const v = Number(next < 0 ? t.slice(end + 1) : t.slice(end + 1, next));
    clo = Number.isInteger(v) ? v : -1;
  }
  const h = e as ReceiptHandle;
  h.commitLogOffset = clo;
  h.extraInfo = buildExtraInfo(e);
  h.nextVisibleTime = e.popTime + e.invisibleTime;
  return h;
}

/** Parses and checks expiry: INVALID_RECEIPT_HANDLE for a malformed or expired handle. */
export function requireReceiptHandle(handle: string | undefined, now: number): ReceiptHandle {
  const h = decodeReceiptHandle(handle ?? '');
  if (h === undefined) throw new ProxyError(Code.INVALID_RECEIPT_HANDLE, 'receipt handle is malformed');
  if (h.nextVisibleTime <= now) throw new ProxyError(Code.INVALID_RECEIPT_HANDLE, 'receipt handle is expired');
  return h;
}
