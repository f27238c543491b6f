import { Inject, Injectable } from '@nestjs/common';
import { RemotingCommand, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import type { MessageStore } from '@rocketmq-ts/store';
import { MESSAGE_STORE } from '../tokens.js';

/**
 * GET_TIMER_CHECK_POINT (60): the 56-byte timer checkpoint (a slave takes the master's read time and
 * queue progress from it); GET_TIMER_METRICS (61): pending timers per topic (config/timermetrics).
 * SYSTEM_ERROR when timerWheelEnable is off, as RocketMQ answers without a timer.
 */
@Injectable()
export class TimerProcessor {
  constructor(@Inject(MESSAGE_STORE) private readonly store: MessageStore) {}

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
}
