import { Inject, Injectable } from '@nestjs/common';
import { MessageConst, PermName, decodeRecallHandle } from '@rocketmq-ts/common';
import { RecallMessageRequestHeader, RemotingCommand, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import type { RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { PutMessageStatus, type MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { bornHostOf } from './send.processor.js';

/** Tag of the marker a recall files (RocketMQ's name, so its tools recognise it). */
const RECALL_TAG = '_RECALL_TAG_';
const SEP1 = '\u0001';
const SEP2 = '\u0002';

/**
 * GET_TIMER_CHECK_POINT (60): the 56-byte timer checkpoint (a slave takes the master's read time and
 * queue progress from it); GET_TIMER_METRICS (61): pending timers per topic (config/timermetrics).
 * SYSTEM_ERROR when timerWheelEnable is off, as RocketMQ answers without a timer.
 * RECALL_MESSAGE (370): cancels a timer message before it is due, by the recall handle its send reply
 * carried: a delete marker is filed in the same timer slot, and the slot skips the message it names.
 */
@Injectable()
export class TimerProcessor {
  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly state: BrokerState,
    private readonly topics: TopicConfigManager,
  ) {}

  @RemotingHandler(RequestCode.GET_TIMER_CHECK_POINT)
  checkPoint(req: RemotingCommand): RemotingCommand {
    const t = this.store.timerMessageStore;
    if (t === undefined) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, 'The checkpoint is null');
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, null, t.checkpointBody());
  }

  @RemotingHandler(RequestCode.GET_TIMER_METRICS)
  metrics(req: RemotingCommand): RemotingCommand {
    const t = this.store.timerMessageStore;
    if (t === undefined) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, 'The timer metrics is null');
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, null, Buffer.from(t.metricsJson(), 'utf8'));
  }

  @RemotingHandler(RequestCode.RECALL_MESSAGE)
  async recall(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand> {
    const fail = (code: number, remark: string): RemotingCommand => RemotingCommand.responseTo(req, code, remark);
    const h = RecallMessageRequestHeader.decode(req.extFields);
    if (!this.state.isMaster) return fail(ResponseCode.SLAVE_NOT_AVAILABLE, 'recall failed, broker service not available');
    if (this.state.state !== 'running') return fail(ResponseCode.SERVICE_NOT_AVAILABLE, 'recall failed, broker service not available');
    if ((this.config.brokerPermission & PermName.PERM_WRITE) === 0) {
      return fail(ResponseCode.SERVICE_NOT_AVAILABLE, 'recall failed, broker service not available');
    }
    if (this.topics.get(h.topic) === undefined) return fail(ResponseCode.TOPIC_NOT_EXIST, `recall failed, the topic[${h.topic}] not exist`);
    const handle = decodeRecallHandle(h.recallHandle);
    if (handle instanceof Error) return fail(ResponseCode.ILLEGAL_OPERATION, handle.message);
    if (handle.topic !== h.topic) return fail(ResponseCode.ILLEGAL_OPERATION, 'recall failed, topic not match');
    if (handle.brokerName !== this.config.brokerName) return fail(ResponseCode.ILLEGAL_OPERATION, 'recall failed, broker service not available');
    const at = Number(handle.timestamp);
    const left = at - Date.now();
    if (!Number.isSafeInteger(at) || left <= 0 || left >= this.config.store.timerMaxDelaySec * 1000) {
      return fail(ResponseCode.ILLEGAL_OPERATION, 'recall failed, timestamp invalid');
    }
    const now = Date.now();
    const props =
      MessageConst.PROPERTY_TAGS +
      SEP1 +
      RECALL_TAG +
      SEP2 +
      // The timer matches markers by real topic + UNIQ_KEY.
      MessageConst.PROPERTY_TIMER_DEL_UNIQKEY +
      SEP1 +
      handle.topic +
      '+' +
      handle.messageId +
      SEP2 +
      MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX +
      SEP1 +
      handle.messageId +
      SEP2 +
      MessageConst.PROPERTY_TIMER_DELIVER_MS +
      SEP1 +
      handle.timestamp +
      SEP2 +
      MessageConst.PROPERTY_BORN_TIMESTAMP +
      SEP1 +
      now +
      SEP2 +
      (h.producerGroup ? MessageConst.PROPERTY_PRODUCER_GROUP + SEP1 + h.producerGroup + SEP2 : '');
    const r = await this.store.putMessage({
      topic: handle.topic,
      queueId: 0,
      body: Buffer.from('0'),
      flag: 0,
      propertiesString: props,
      sysFlag: 0,
      bornTimestamp: now,
      bornHost: bornHostOf(conn),
      reconsumeTimes: 0,
    });
    switch (r.status) {
      case PutMessageStatus.PUT_OK:
      case PutMessageStatus.FLUSH_DISK_TIMEOUT:
      case PutMessageStatus.FLUSH_SLAVE_TIMEOUT:
      case PutMessageStatus.SLAVE_NOT_AVAILABLE:
        return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { msgId: handle.messageId });
      default:
        return fail(ResponseCode.SYSTEM_ERROR, `recall failed, execute error: ${r.status}`);
    }
  }
}
