import type { CheckTransactionStateRequestHeader, SubscriptionData as WireSubscriptionData } from '@rocketmq-ts/protocol';
import type { RemotingConnection } from '@rocketmq-ts/remoting';
import type { MessageQueue, TopicPublishInfo } from './message-queue.js';
import type { ReceivedMessage } from './received-message.js';

export type MessageModel = 'CLUSTERING' | 'BROADCASTING';
export type ConsumeFromWhere = 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';
export type ConsumeType = 'CONSUME_PASSIVELY' | 'CONSUME_ACTIVELY';

/** What a consumer subscribes to, as HEART_BEAT carries it (remoting.md §3.5); our client sends TAG or SQL92. */
export type SubscriptionData = WireSubscriptionData & { expressionType: 'TAG' | 'SQL92' };

/** A half message as a broker's transaction check-back carries it, with its transaction id (its UNIQ_KEY). */
export interface TransactionCheckMessage extends ReceivedMessage {
  transactionId: string | undefined;
}

/** A decoded CHECK_TRANSACTION_STATE and the connection to answer on. */
export interface TransactionCheckRequest {
  header: ReturnType<typeof CheckTransactionStateRequestHeader.decode>;
  message: TransactionCheckMessage;
  conn: RemotingConnection;
}

/** A producer as the shared client core sees it. */
export interface ProducerInner {
  readonly group: string;
  publishTopics(): string[];
  updateTopicPublishInfo(topic: string, info: TopicPublishInfo): void;
  /** Transaction producers only: takes a check-back and answers it later (must not block). */
  checkTransactionState?(req: TransactionCheckRequest): void;
}

export interface ConsumeDirectlyResult {
  order: boolean;
  autoCommit: boolean;
  consumeResult: 'CR_SUCCESS' | 'CR_LATER' | 'CR_ROLLBACK' | 'CR_COMMIT' | 'CR_THROW_EXCEPTION' | 'CR_RETURN_NULL';
  remark: string;
  spentTimeMills: number;
}

/** A consumer as the shared client core sees it. */
export interface ConsumerInner {
  readonly group: string;
  readonly messageModel: MessageModel;
  readonly consumeType: ConsumeType;
  readonly consumeFromWhere: ConsumeFromWhere;
  subscriptions(): SubscriptionData[];
  updateSubscribeInfo(topic: string, mqs: MessageQueue[]): void;
  doRebalance(): Promise<void>;
  persistConsumerOffset(): Promise<void>;
  resetOffset(topic: string, offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void>;
  consumerOffsets(topic: string): Array<[MessageQueue, number]>;
  runningInfo(): Record<string, unknown>;
  consumeMessageDirectly(msg: ReceivedMessage): Promise<ConsumeDirectlyResult>;
}
