import { Inject, Injectable } from '@nestjs/common';
import { QueryMessageRequestHeader, RemotingCommand, RequestCode, ResponseCode, ViewMessageRequestHeader } from '@rocketmq-ts/protocol';
import { type RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import type { MessageStore } from '@rocketmq-ts/store';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { MESSAGE_STORE } from '../tokens.js';

/** QUERY_MESSAGE (by key, or by UNIQ_KEY with `_UNIQUE_KEY_QUERY`) and VIEW_MESSAGE_BY_ID (by commit-log offset). */
@Injectable()
export class QueryMessageProcessor {
  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly metrics: BrokerMetrics,
  ) {}

  @RemotingHandler(RequestCode.QUERY_MESSAGE)
  async query(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand | null> {
    const t0 = performance.now();
    const h = QueryMessageRequestHeader.decode(req.extFields);
    const byUniqKey = req.ext('_UNIQUE_KEY_QUERY') === 'true';
    const r = byUniqKey
      ? await this.store.queryMessageByUniqKey(h.topic, h.key, h.beginTimestamp, h.endTimestamp)
      : await this.store.queryMessage(h.topic, h.key, h.maxNum > 0 ? h.maxNum : 32, h.beginTimestamp, h.endTimestamp);
    const ext = { indexLastUpdateTimestamp: String(r.indexLastUpdateTimestamp), indexLastUpdatePhyoffset: String(r.indexLastUpdatePhyoffset) };
    if (r.messageBuffers.length === 0) {
      return RemotingCommand.responseTo(req, ResponseCode.QUERY_NOT_FOUND, 'can not find message, maybe time range not correct', ext);
    }
    // Records go out as stored slices after the header; the handler reports the rpc itself.
    if (!req.isOneway) conn.send(RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, ext), r.messageBuffers);
    this.metrics.rpcDone(req.code, req.isOneway ? -1 : ResponseCode.SUCCESS, performance.now() - t0);
    return null;
  }

  @RemotingHandler(RequestCode.VIEW_MESSAGE_BY_ID)
  async view(req: RemotingCommand): Promise<RemotingCommand> {
    const h = ViewMessageRequestHeader.decode(req.extFields);
    const rec = await this.store.selectOneMessageByOffset(h.offset);
    if (!rec) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `can not find message by the offset, ${h.offset}`);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, null, rec);
  }
}
