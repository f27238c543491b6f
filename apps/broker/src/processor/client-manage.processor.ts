import { Inject, Injectable } from '@nestjs/common';
import {
  FilterSyntaxError,
  MixAll,
  PermName,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  UnregisterClientRequestHeader,
  decodeHeartbeatData,
  readSubscriptionData,
  parseLenientJson,
  type JsonValue,
} from '@rocketmq-ts/protocol';
import { type RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { compileSql92 } from './message-filter.js';
import type { BrokerConfig } from '../config.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { ConsumerManager } from '../client/consumer-manager.js';
import { ProducerManager } from '../client/producer-manager.js';
import { ClientHousekeeping } from '../client/client-housekeeping.service.js';
import { BROKER_CONFIG } from '../tokens.js';

/** HEART_BEAT, UNREGISTER_CLIENT, CHECK_CLIENT_CONFIG: who is connected and what they consume. */
@Injectable()
export class ClientManageProcessor {
  private readonly watched = new WeakSet<RemotingConnection>();

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly consumers: ConsumerManager,
    private readonly producers: ProducerManager,
    private readonly clients: ClientHousekeeping,
  ) {}

  @RemotingHandler(RequestCode.HEART_BEAT)
  heartbeat(req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const hb = decodeHeartbeatData(req.body);
    const now = Date.now();
    const info = { channel: conn, clientId: hb.clientID, language: req.language, version: req.version, lastUpdateTimestamp: now };
    this.watch(conn);
    for (const c of hb.consumerDataSet) {
      const g = this.groups.find(c.groupName);
      if (!g) continue; // auto-creation is off and the group is unknown: RocketMQ ignores it too
      this.topics.createIfMissing(MixAll.RETRY_GROUP_TOPIC_PREFIX + c.groupName, g.retryQueueNums, PermName.PERM_READ | PermName.PERM_WRITE);
      this.consumers.register(c, info, this.clients.notifyEnabled(c.groupName));
    }
    for (const p of hb.producerDataSet) this.producers.register(p.groupName, info);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, { IS_SUPPORT_HEART_BEAT_V2: 'true', IS_SUB_CHANGE: 'true' });
  }

  /** The first time we see a connection, forget its groups when it closes. */
  private watch(conn: RemotingConnection): void {
    if (this.watched.has(conn)) return;
    this.watched.add(conn);
    conn.socket.once('close', () => this.clients.clientGone(conn));
  }

  @RemotingHandler(RequestCode.UNREGISTER_CLIENT)
  unregister(req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const h = UnregisterClientRequestHeader.decode(req.extFields);
    if (h.producerGroup) this.producers.unregister(h.producerGroup, conn);
    if (h.consumerGroup) this.consumers.unregister(h.consumerGroup, conn, this.clients.notifyEnabled(h.consumerGroup));
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS);
  }

  @RemotingHandler(RequestCode.CHECK_CLIENT_CONFIG)
  checkClientConfig(req: RemotingCommand): RemotingCommand {
    const body = (req.body ? parseLenientJson(req.body.toString('utf8')) : {}) as Record<string, JsonValue>;
    const sub = readSubscriptionData(body['subscriptionData'] ?? null);
    if (sub.expressionType === 'SQL92') {
      if (!this.config.enablePropertyFilter) {
        return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, 'The broker does not support consumer to filter message by SQL92');
      }
      try {
        compileSql92(sub.subString);
      } catch (e) {
        if (e instanceof FilterSyntaxError) return RemotingCommand.responseTo(req, ResponseCode.SUBSCRIPTION_PARSE_FAILED, e.message);
        throw e;
      }
    } else if (sub.expressionType !== 'TAG') {
      return RemotingCommand.responseTo(req, ResponseCode.SUBSCRIPTION_PARSE_FAILED, `unsupported expression type ${sub.expressionType}`);
    }
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS);
  }
}
