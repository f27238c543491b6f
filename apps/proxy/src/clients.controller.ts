import { Controller, Get, HttpException, Inject, Param, Post, Query } from '@nestjs/common';
import { decodeOffsetMsgId } from '@rocketmq-ts/protocol';
import { Cluster } from './cluster/cluster.js';
import { codeName } from './grpc/status.js';
import { toGrpcMessage } from './messaging/convert.js';
import { TelemetryHub } from './messaging/telemetry.js';

/**
 * Operator views of the 5.x clients over the proxy's HTTP port: the clients whose telemetry
 * streams this proxy holds, and the two commands RocketMQ's proxy can send them (print thread
 * stacks, verify a message), reaching a client through whichever proxy holds its stream.
 */
@Controller('clients')
export class ClientsController {
  constructor(
    @Inject(TelemetryHub) private readonly telemetry: TelemetryHub,
    @Inject(Cluster) private readonly cluster: Cluster,
  ) {}

  @Get()
  list(): Array<Record<string, unknown>> {
    return this.telemetry.localClients();
  }

  @Get(':clientId/stack')
  async stack(@Param('clientId') clientId: string): Promise<Record<string, unknown>> {
    const text = await this.telemetry.threadStack(clientId);
    if (text === undefined) throw new HttpException({ error: `client ${clientId} has no telemetry stream on any proxy, or did not answer` }, 404);
    return { clientId, threadStackTrace: text };
  }

  /** Asks a consumer to verify (consume without acking) the message with this broker offset id. */
  @Post(':clientId/verify')
  async verify(
    @Param('clientId') clientId: string,
    @Query('offsetMsgId') offsetMsgId: string,
    @Query('topic') topic?: string,
  ): Promise<Record<string, unknown>> {
    const id = decodeOffsetMsgId(offsetMsgId ?? '');
    if (id === undefined) throw new HttpException({ error: 'offsetMsgId is not a broker message id' }, 400);
    const addr = `${id.address}:${id.port}`;
    const m = await this.cluster.api.viewMessage(addr, id.commitLogOffset, '', topic).catch(() => undefined);
    if (m === undefined) throw new HttpException({ error: `no message ${offsetMsgId} at ${addr}` }, 404);
    const reply = await this.telemetry.verifyMessage(
      clientId,
      toGrpcMessage({ ...m, receiptHandle: '', deliveryAttempt: 1, nextVisibleTime: 0 }, undefined, 1),
    );
    if (reply === undefined) throw new HttpException({ error: `client ${clientId} has no telemetry stream on any proxy, or did not answer` }, 404);
    const code = reply.status?.code ?? 0;
    return { clientId, offsetMsgId, status: { code, name: codeName(code), message: reply.status?.message ?? '' } };
  }
}
