import { totalmem } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import {
  GetConsumerListByGroupRequestHeader,
  GetEarliestMsgStoretimeRequestHeader,
  GetMaxOffsetRequestHeader,
  GetMinOffsetRequestHeader,
  QueryConsumerOffsetRequestHeader,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  SearchOffsetRequestHeader,
  UpdateConsumerOffsetRequestHeader,
} from '@rocketmq-ts/protocol';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import type { BrokerConfig } from '../config.js';
import type { MessageStore } from '@rocketmq-ts/store';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { ConsumerManager } from '../client/consumer-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';

/** Group membership and offsets: GET_CONSUMER_LIST_BY_GROUP, QUERY/UPDATE_CONSUMER_OFFSET, and the queue offset queries. */
@Injectable()
export class ConsumerManageProcessor {
  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly consumers: ConsumerManager,
  ) {}

  @RemotingHandler(RequestCode.GET_CONSUMER_LIST_BY_GROUP)
  consumerList(req: RemotingCommand): RemotingCommand {
    const h = GetConsumerListByGroupRequestHeader.decode(req.extFields);
    const g = this.consumers.get(h.consumerGroup);
    const ids = g?.clientIds() ?? [];
    if (ids.length === 0) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `no consumer for this group, ${h.consumerGroup}`);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify({ consumerIdList: ids })));
  }

  @RemotingHandler(RequestCode.QUERY_CONSUMER_OFFSET)
  async queryOffset(req: RemotingCommand): Promise<RemotingCommand> {
    const h = QueryConsumerOffsetRequestHeader.decode(req.extFields);
    const offset = this.offsets.queryOffset(h.consumerGroup, h.topic, h.queueId);
    if (offset >= 0) return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { offset: String(offset) });
    if (h.setZeroIfNotFound === false) {
      return RemotingCommand.responseTo(req, ResponseCode.QUERY_NOT_FOUND, 'Not found, do not set to zero, maybe this group boot first');
    }
    // Never committed: start at 0 when the queue still holds its first message and that message is
    // still "in memory" (RocketMQ's rule); otherwise the client applies its consumeFromWhere.
    if (this.store.getMinOffsetInQueue(h.topic, h.queueId) <= 0 && (await this.firstMessageInMemory(h.topic, h.queueId))) {
      return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { offset: '0' });
    }
    return RemotingCommand.responseTo(req, ResponseCode.QUERY_NOT_FOUND, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
  }

  /** Whether message 0 of the queue exists and is within the "hot" part of the commit log. */
  private async firstMessageInMemory(topic: string, queueId: number): Promise<boolean> {
    const store = this.store;
    if (store.getMaxOffsetInQueue(topic, queueId) <= 0) return false;
    const phy = await store.getCommitLogOffsetInQueue(topic, queueId, 0);
    if (phy < 0) return false;
    return store.getMaxPhyOffset() - phy <= (totalmem() * this.config.store.accessMessageInMemoryMaxRatio) / 100;
  }

  @RemotingHandler(RequestCode.UPDATE_CONSUMER_OFFSET)
  updateOffset(req: RemotingCommand): RemotingCommand {
    const h = UpdateConsumerOffsetRequestHeader.decode(req.extFields);
    if (!this.topics.get(h.topic)) return RemotingCommand.responseTo(req, ResponseCode.TOPIC_NOT_EXIST, `Topic ${h.topic} not exist!`);
    this.offsets.commitOffset(h.consumerGroup, h.topic, h.queueId, h.commitOffset);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS);
  }

  @RemotingHandler(RequestCode.GET_MAX_OFFSET)
  maxOffset(req: RemotingCommand): RemotingCommand {
    const h = GetMaxOffsetRequestHeader.decode(req.extFields);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { offset: String(this.store.getMaxOffsetInQueue(h.topic, h.queueId)) });
  }

  @RemotingHandler(RequestCode.GET_MIN_OFFSET)
  minOffset(req: RemotingCommand): RemotingCommand {
    const h = GetMinOffsetRequestHeader.decode(req.extFields);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { offset: String(this.store.getMinOffsetInQueue(h.topic, h.queueId)) });
  }

  @RemotingHandler(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP)
  async searchOffset(req: RemotingCommand): Promise<RemotingCommand> {
    const h = SearchOffsetRequestHeader.decode(req.extFields);
    // Java sends the enum's name (LOWER/UPPER); our client the lower-case form. Absent means LOWER.
    const boundary = h.boundaryType?.toLowerCase() === 'upper' ? 'upper' : 'lower';
    const offset = await this.store.getOffsetInQueueByTime(h.topic, h.queueId, h.timestamp, boundary);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { offset: String(offset) });
  }

  @RemotingHandler(RequestCode.GET_EARLIEST_MSG_STORETIME)
  async earliest(req: RemotingCommand): Promise<RemotingCommand> {
    const h = GetEarliestMsgStoretimeRequestHeader.decode(req.extFields);
    const ts = await this.store.getEarliestMessageTime(h.topic, h.queueId);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { timestamp: String(ts) });
  }
}
