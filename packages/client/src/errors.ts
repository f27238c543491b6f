import { MQError, ResponseCode, responseCodeInfo } from '@rocketmq-ts/protocol';

export { MQError } from '@rocketmq-ts/protocol';

/**
 * Client-side failures that are not a broker's answer: a client that is not started, a message
 * that breaks the rules, a topic without a route. They carry a response code from the same table
 * (so `retriable` means the same thing everywhere) and a message that says what to do.
 */
export class MQClientError extends MQError {
  override readonly name: string = 'MQClientError';
}

/** The broker or name server answered with a non-success code. */
export class MQBrokerError extends MQError {
  override readonly name: string = 'MQBrokerError';
  /** "host:port" of the server that answered. */
  readonly addr: string | undefined;
  constructor(code: number, remark: string | null | undefined, addr?: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(code, withHint(code, remark, addr), options);
    this.addr = addr;
  }
}

/** The usual mistakes, explained once. */
const HINTS: Partial<Record<number, string>> = {
  [ResponseCode.TOPIC_NOT_EXIST]: 'create the topic first (mqadmin updateTopic -t <topic> -c <cluster>) or enable autoCreateTopicEnable on the broker',
  [ResponseCode.NO_PERMISSION]: 'the broker or topic does not allow this operation (check the topic perm, brokerPermission, or the group consumeEnable)',
  [ResponseCode.SYSTEM_BUSY]: 'the broker is busy and applies flow control; retry later or reduce the send rate',
  [ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST]: 'create the group (mqadmin updateSubGroup -g <group>) or enable autoCreateSubscriptionGroup on the broker',
  [ResponseCode.MESSAGE_ILLEGAL]: 'the message body or properties are too large or malformed',
  [ResponseCode.SERVICE_NOT_AVAILABLE]: 'the broker is shutting down, is a slave, or its disk is full',
};

function withHint(code: number, remark: string | null | undefined, addr: string | undefined): string {
  const hint = HINTS[code];
  let s = remark ?? '';
  if (addr) s += `${s ? ' ' : ''}(broker ${addr})`;
  if (hint) s += `${s ? '; ' : ''}${hint}`;
  return s;
}

export function noRouteError(topic: string, namesrv: readonly string[], cause?: unknown): MQClientError {
  return new MQClientError(
    ResponseCode.TOPIC_NOT_EXIST,
    `No route info of this topic: ${topic}, name servers ${namesrv.join(';') || '(none configured)'}; ${HINTS[ResponseCode.TOPIC_NOT_EXIST]}`,
    cause === undefined ? undefined : { cause },
  );
}

export function notRunningError(what: string, state: string): MQClientError {
  return new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, `the ${what} is not running (state ${state}); call start() first`, { retriable: false });
}

export function illegalArgument(message: string): MQClientError {
  return new MQClientError(ResponseCode.INVALID_PARAMETER, message, { retriable: false });
}

/** True for errors the send path may retry on another broker. */
export function isRetriable(e: unknown): boolean {
  return e instanceof MQError ? e.retriable : false;
}

export function codeName(code: number): string {
  return responseCodeInfo(code).name;
}
