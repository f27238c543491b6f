import { MQError, ResponseCode } from '@rocketmq-ts/protocol';

/** apache.rocketmq.v2.Code values (definition.proto). */
export const Code = {
  OK: 20000,
  MULTIPLE_RESULTS: 30000,
  BAD_REQUEST: 40000,
  ILLEGAL_ACCESS_POINT: 40001,
  ILLEGAL_TOPIC: 40002,
  ILLEGAL_CONSUMER_GROUP: 40003,
  ILLEGAL_MESSAGE_TAG: 40004,
  ILLEGAL_MESSAGE_KEY: 40005,
  ILLEGAL_MESSAGE_GROUP: 40006,
  ILLEGAL_MESSAGE_PROPERTY_KEY: 40007,
  INVALID_TRANSACTION_ID: 40008,
  ILLEGAL_MESSAGE_ID: 40009,
  ILLEGAL_FILTER_EXPRESSION: 40010,
  ILLEGAL_INVISIBLE_TIME: 40011,
  ILLEGAL_DELIVERY_TIME: 40012,
  INVALID_RECEIPT_HANDLE: 40013,
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: 40014,
  UNRECOGNIZED_CLIENT_TYPE: 40015,
  MESSAGE_CORRUPTED: 40016,
  CLIENT_ID_REQUIRED: 40017,
  ILLEGAL_POLLING_TIME: 40018,
  ILLEGAL_OFFSET: 40019,
  UNAUTHORIZED: 40100,
  FORBIDDEN: 40300,
  NOT_FOUND: 40400,
  MESSAGE_NOT_FOUND: 40401,
  TOPIC_NOT_FOUND: 40402,
  CONSUMER_GROUP_NOT_FOUND: 40403,
  OFFSET_NOT_FOUND: 40404,
  REQUEST_TIMEOUT: 40800,
  PAYLOAD_TOO_LARGE: 41300,
  MESSAGE_BODY_TOO_LARGE: 41301,
  MESSAGE_BODY_EMPTY: 41302,
  PRECONDITION_FAILED: 42800,
  TOO_MANY_REQUESTS: 42900,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 43100,
  MESSAGE_PROPERTIES_TOO_LARGE: 43101,
  INTERNAL_ERROR: 50000,
  INTERNAL_SERVER_ERROR: 50001,
  HA_NOT_AVAILABLE: 50002,
  NOT_IMPLEMENTED: 50100,
  PROXY_TIMEOUT: 50400,
  MASTER_PERSISTENCE_TIMEOUT: 50401,
  SLAVE_PERSISTENCE_TIMEOUT: 50402,
  UNSUPPORTED: 50500,
  VERSION_UNSUPPORTED: 50501,
  VERIFY_FIFO_MESSAGE_UNSUPPORTED: 50502,
  FAILED_TO_CONSUME_MESSAGE: 60000,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

const CODE_NAMES = new Map<number, string>(Object.entries(Code).map(([k, v]) => [v, k]));

export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? String(code);
}

export interface Status {
  code: number;
  message: string;
}

export const OK_STATUS: Status = Object.freeze({ code: Code.OK, message: 'OK' });

/**
 * A request the proxy refuses or a broker answer it passes on, as the v2 status the client sees.
 * Thrown inside handlers; the server turns it into the response's `status`.
 */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
  get status(): Status {
    return { code: this.code, message: this.message };
  }
}

/** A broker's remoting response code → the v2 code RocketMQ's proxy answers with. */
const FROM_REMOTING: ReadonlyMap<number, number> = new Map<number, number>([
  [ResponseCode.SUCCESS, Code.OK],
  [ResponseCode.SYSTEM_BUSY, Code.TOO_MANY_REQUESTS],
  [ResponseCode.FLOW_CONTROL, Code.TOO_MANY_REQUESTS],
  [ResponseCode.POLLING_FULL, Code.TOO_MANY_REQUESTS],
  [ResponseCode.REQUEST_CODE_NOT_SUPPORTED, Code.NOT_IMPLEMENTED],
  [ResponseCode.FLUSH_DISK_TIMEOUT, Code.MASTER_PERSISTENCE_TIMEOUT],
  [ResponseCode.FLUSH_SLAVE_TIMEOUT, Code.SLAVE_PERSISTENCE_TIMEOUT],
  [ResponseCode.SLAVE_NOT_AVAILABLE, Code.HA_NOT_AVAILABLE],
  [ResponseCode.MESSAGE_ILLEGAL, Code.BAD_REQUEST],
  [ResponseCode.INVALID_PARAMETER, Code.BAD_REQUEST],
  [ResponseCode.VERSION_NOT_SUPPORTED, Code.VERSION_UNSUPPORTED],
  [ResponseCode.NO_PERMISSION, Code.FORBIDDEN],
  [ResponseCode.TOPIC_NOT_EXIST, Code.TOPIC_NOT_FOUND],
  [ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, Code.CONSUMER_GROUP_NOT_FOUND],
  [ResponseCode.SUBSCRIPTION_NOT_EXIST, Code.CONSUMER_GROUP_NOT_FOUND],
  [ResponseCode.SUBSCRIPTION_PARSE_FAILED, Code.ILLEGAL_FILTER_EXPRESSION],
  [ResponseCode.QUERY_NOT_FOUND, Code.OFFSET_NOT_FOUND],
  [ResponseCode.NO_MESSAGE, Code.MESSAGE_NOT_FOUND],
  [ResponseCode.PULL_NOT_FOUND, Code.MESSAGE_NOT_FOUND],
  [ResponseCode.POLLING_TIMEOUT, Code.MESSAGE_NOT_FOUND],
  [ResponseCode.PULL_OFFSET_MOVED, Code.ILLEGAL_OFFSET],
  [ResponseCode.ILLEGAL_OPERATION, Code.BAD_REQUEST],
  [ResponseCode.DISK_FULL, Code.INTERNAL_SERVER_ERROR],
  [ResponseCode.RPC_TIME_OUT, Code.PROXY_TIMEOUT],
]);

export function codeFromRemoting(code: number): number {
  return FROM_REMOTING.get(code) ?? Code.INTERNAL_SERVER_ERROR;
}

/** Any error thrown by a handler → the status to answer with. */
export function statusOf(e: unknown): Status {
  if (e instanceof ProxyError) return e.status;
  if (e instanceof MQError) return { code: codeFromRemoting(e.code), message: e.message };
  return { code: Code.INTERNAL_SERVER_ERROR, message: e instanceof Error ? e.message : String(e) };
}
