import { responseCodeInfo } from './codes.js';

/** Malformed bytes on the wire. A server closes the offending connection, nothing else. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** A request header that cannot be decoded; the reply names the field. */
export class HeaderError extends Error {
  override readonly name = 'HeaderError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A failure that carries a RocketMQ response code. `retriable` comes from the code table, so
 * retry logic never reads the message text.
 */
export class MQError extends Error {
  override readonly name: string = 'MQError';
  readonly code: number;
  readonly codeName: string;
  readonly retriable: boolean;
  readonly remark: string | undefined;

  constructor(code: number, remark?: string | null, options?: { cause?: unknown; retriable?: boolean }) {
    const info = responseCodeInfo(code);
    super(`${info.name}(${code})${remark ? `: ${remark}` : ''}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.codeName = info.name;
    this.retriable = options?.retriable ?? info.retriable;
    this.remark = remark ?? undefined;
  }
}
