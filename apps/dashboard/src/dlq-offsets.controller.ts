import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ResponseCode } from '@rocketmq-ts/protocol';
import { runApiCall, type HttpResponse } from './api-call.js';
import { BadRequest } from './console.service.js';
import { DLQ_PAGE_MAX, DeadLetterService, deadLettersCsv } from './dlq.service.js';
import { DashboardMetrics } from './metrics.js';
import { OffsetResetService, parseResetRequest } from './offsets.service.js';

const NOT_FOUND = new Set<number>([ResponseCode.TOPIC_NOT_EXIST, ResponseCode.QUERY_NOT_FOUND, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST]);

const limitOf = (v: unknown, fallback: number): number => {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new BadRequest(`${JSON.stringify(v)} is not an integer`);
  return n;
};

/** File name part of a group: what a download may be called. */
const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/**
 * Dead letters of a group (list, resend, export) and consumer offset resets (preview, apply,
 * undo, history). Answers as ApiController does: `{ error }` with 400 / 404 / 502.
 */
@Controller('api')
export class DeadLetterOffsetController {
  constructor(
    @Inject(DeadLetterService) private readonly dlq: DeadLetterService,
    @Inject(OffsetResetService) private readonly offsets: OffsetResetService,
    @Inject(DashboardMetrics) private readonly metrics: DashboardMetrics,
  ) {}

  private run<T>(route: string, res: HttpResponse, fn: () => Promise<T>): Promise<T | { error: string }> {
    return runApiCall(this.metrics, NOT_FOUND, route, res, fn);
  }

  @Get('dlq/:group')
  list(@Param('group') group: string, @Query('limit') limit: unknown, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('dlq', res, () => this.dlq.list(group, limitOf(limit, 100)));
  }

  @Post('dlq/:group/resend')
  @HttpCode(200)
  resend(@Param('group') group: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('dlq_resend', res, async () => ({ results: await this.dlq.resend(group, body['ids']) }));
  }

  /** `{ ids?, format: 'json' | 'csv', limit? }`: the messages named, or the newest `limit`, as a download. */
  @Post('dlq/:group/export')
  @HttpCode(200)
  export(@Param('group') group: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('dlq_export', res, async () => {
      const format = body['format'] === 'csv' ? 'csv' : 'json';
      const rows = await this.dlq.export(group, body['ids'], limitOf(body['limit'], DLQ_PAGE_MAX));
      const name = `dlq-${fileSafe(group)}-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`;
      res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
      if (format === 'json') return { group, exportedAt: Date.now(), messages: rows };
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      return deadLettersCsv(rows);
    });
  }

  @Post('groups/:group/offsets/preview')
  @HttpCode(200)
  preview(@Param('group') group: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('offsets_preview', res, async () => this.offsets.plan(group, parseResetRequest(body)));
  }

  @Post('groups/:group/offsets/apply')
  apply(@Param('group') group: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('offsets_apply', res, async () => this.offsets.apply(group, parseResetRequest(body)));
  }

  @Post('groups/:group/offsets/undo')
  @HttpCode(200)
  undo(@Param('group') group: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpResponse) {
    const id = typeof body['id'] === 'string' && body['id'] ? body['id'] : undefined;
    return this.run('offsets_undo', res, async () => this.offsets.undo(group, id));
  }

  @Get('groups/:group/offsets/history')
  history(@Param('group') group: string, @Res({ passthrough: true }) res: HttpResponse) {
    return this.run('offsets_history', res, async () => this.offsets.history(group));
  }
}
