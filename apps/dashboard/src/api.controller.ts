import { Body, Controller, Delete, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ResponseCode } from '@rocketmq-ts/protocol';
import { runApiCall, type HttpResponse } from './api-call.js';
import { BadRequest, ConsoleService } from './console.service.js';
import { DashboardMetrics } from './metrics.js';

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const int = (v: unknown, fallback: number): number => {
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n)) throw new BadRequest(`${JSON.stringify(v)} is not an integer`);
  return n;
};
/** Milliseconds since the epoch, or an ISO date-time. */
const time = (v: unknown, fallback: number): number => {
  const s = str(v);
  if (s === '') return fallback;
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new BadRequest(`${JSON.stringify(s)} is not a time (ms since the epoch or an ISO date)`);
  return n;
};

/** Answers of the cluster that mean "no such thing" rather than a failure. */
const NOT_FOUND = new Set<number>([
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.QUERY_NOT_FOUND,
  ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
  ResponseCode.CONSUMER_NOT_ONLINE,
]);

/**
 * The JSON API the pages call. Errors come back as `{ error }`: 400 for a request we refuse as
 * given, 404 when the cluster has no such topic, message or group, 502 when a name server or broker
 * failed or refused.
 */
@Controller('api')
export class ApiController {
  constructor(
    @Inject(ConsoleService) private readonly console: ConsoleService,
    @Inject(DashboardMetrics) private readonly metrics: DashboardMetrics,
  ) {}

  private run<T>(route: string, res: HttpResponse, fn: () => Promise<T>): Promise<T | { error: string }> {
    return runApiCall(this.metrics, NOT_FOUND, route, res, fn);
  }

  @Get('cluster')
  cluster(@Res({ passthrough: true }) res: HttpResponse) {
    return this.run('cluster', res, () => this.console.cluster());
  }

  @Get('topics')
  topics(@Res({ passthrough: true }) res: HttpResponse) {
    return this.run('topics', res, () => this.console.topics());
  }

  @Post('topics')
  saveTopic(@Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('topic_save', res, async () => ({
      brokers: await this.console.saveTopic({
        topic: str(body['topic']),
        readQueueNums: int(body['readQueueNums'], 8),
        writeQueueNums: int(body['writeQueueNums'], 8),
        perm: int(body['perm'], 6),
        order: body['order'] === true || body['order'] === 'true',
        cluster: str(body['cluster']) || undefined,
      }),
    }));
  }

  @Get('topics/:topic')
  topic(@Param('topic') topic: string, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('topic', res, () => this.console.topic(topic));
  }

  @Delete('topics/:topic')
  deleteTopic(@Param('topic') topic: string, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('topic_delete', res, async () => ({ brokers: await this.console.deleteTopic(topic) }));
  }

  @Post('topics/:topic/messages')
  send(@Param('topic') topic: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('send', res, () =>
      this.console.sendTestMessage(topic, {
        body: typeof body['body'] === 'string' ? body['body'] : '',
        keys: str(body['keys']) || undefined,
        tags: str(body['tags']) || undefined,
      }),
    );
  }

  @Get('groups')
  groups(@Query('system') system: string | undefined, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('groups', res, () => this.console.groups(system === 'true'));
  }

  @Get('groups/:group')
  group(@Param('group') group: string, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('group', res, () => this.console.group(group));
  }

  @Get('producers')
  producers(@Query('topic') topic: unknown, @Query('group') group: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('producers', res, () => this.console.producers(str(topic), str(group)));
  }

  @Get('messages/by-key')
  byKey(@Query('topic') topic: unknown, @Query('key') key: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('messages_by_key', res, async () => ({ messages: await this.console.messagesByKey(str(topic), str(key)) }));
  }

  @Get('messages/by-id')
  byId(@Query('id') id: unknown, @Query('topic') topic: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('messages_by_id', res, async () => ({ messages: await this.console.messagesById(str(id), str(topic)) }));
  }

  @Get('messages/:id/where')
  where(@Param('id') id: string, @Query('topic') topic: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('message_where', res, () => this.console.whereIsMessage(id, str(topic)));
  }

  @Get('messages/by-time')
  byTime(@Query('topic') topic: unknown, @Query('begin') begin: unknown, @Query('end') end: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('messages_by_time', res, () => {
      const e = time(end, Date.now());
      return this.console.messagesByTime(str(topic), time(begin, e - 3600_000), e);
    });
  }
}
