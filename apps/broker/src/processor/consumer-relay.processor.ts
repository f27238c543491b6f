import { Inject, Injectable } from '@nestjs/common';
import { RemotingCommand, RequestCode, ResponseCode, decodeOffsetMsgId } from '@rocketmq-ts/protocol';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import type { MessageStore } from '@rocketmq-ts/store';
import type { ClientChannel } from '../client/channel.js';
import { ConsumerManager } from '../client/consumer-manager.js';
import { MESSAGE_STORE } from '../tokens.js';

/** How long the broker waits for the client it relays a request to (RocketMQ's Broker2Client waits as long). */
export const CLIENT_CALL_TIMEOUT_MS = 10_000;

/**
 * Requests an admin tool sends to the broker for one consumer client, which the broker passes on
 * over that client's own connection and whose answer it hands back unchanged:
 * GET_CONSUMER_RUNNING_INFO (the client's subscriptions, queues and properties) and
 * CONSUME_MESSAGE_DIRECTLY (the broker loads the message by its offset msgId and has the client's
 * listener run it). Header fields consumerGroup and clientId name the client.
 */
@Injectable()
export class ConsumerRelayProcessor {
  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly consumers: ConsumerManager,
  ) {}

  private channelOf(req: RemotingCommand): ClientChannel | RemotingCommand {
    const group = req.ext('consumerGroup') ?? '';
    const clientId = req.ext('clientId') ?? '';
    for (const info of this.consumers.get(group)?.channels.values() ?? []) {
      if (info.clientId === clientId && !info.channel.isClosed) return info.channel;
    }
    return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `The Consumer <${group}> <${clientId}> not online`);
  }

  private async relay(req: RemotingCommand, channel: ClientChannel, body: Buffer | null): Promise<RemotingCommand> {
    const fwd = RemotingCommand.request(req.code, { ...(req.extFields ?? {}) }, body);
    try {
      const res = await channel.invoke(fwd, CLIENT_CALL_TIMEOUT_MS);
      return RemotingCommand.responseTo(req, res.code, res.remark ?? null, res.extFields ?? null, res.body);
    } catch (e) {
      return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `invoke the consumer <${req.ext('clientId') ?? ''}> failed: ${(e as Error).message}`);
    }
  }

  @RemotingHandler(RequestCode.GET_CONSUMER_RUNNING_INFO)
  async runningInfo(req: RemotingCommand): Promise<RemotingCommand> {
    const ch = this.channelOf(req);
    if (ch instanceof RemotingCommand) return ch;
    return this.relay(req, ch, null);
  }

  @RemotingHandler(RequestCode.CONSUME_MESSAGE_DIRECTLY)
  async consumeDirectly(req: RemotingCommand): Promise<RemotingCommand> {
    const ch = this.channelOf(req);
    if (ch instanceof RemotingCommand) return ch;
    const id = decodeOffsetMsgId(req.ext('msgId') ?? '');
    if (!id) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `${req.ext('msgId') ?? ''} is not an offset message id`);
    const rec = await this.store.selectOneMessageByOffset(id.commitLogOffset);
    if (!rec) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `can not find message by the offset, ${id.commitLogOffset}`);
    return this.relay(req, ch, rec);
  }
}
