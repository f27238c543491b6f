import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import { createLogger } from '@rocketmq-ts/remoting';
import { ConsoleService } from './console.service.js';
import { DashboardMetrics } from './metrics.js';
import type { GroupClientsView } from './web/views.js';

const log = createLogger('dashboard');

interface HttpResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/** A client's subscriptions as one comparable text. */
const keyOf = (subs: GroupClientsView['clients'][number]['subscriptions']): string => JSON.stringify(subs.map((s) => [s.topic, s.expressionType, s.subString]));

/**
 * `GET /api/groups/:group/clients`: each online client's own subscriptions, asked of the client
 * itself (GET_CONSUMER_RUNNING_INFO relayed by a broker), and whether they all agree.
 */
@Controller('api/groups')
export class GroupClientsController {
  constructor(
    @Inject(ConsoleService) private readonly console: ConsoleService,
    @Inject(DashboardMetrics) private readonly metrics: DashboardMetrics,
  ) {}

  @Get(':group/clients')
  async clients(@Param('group') group: string, @Res({ passthrough: true }) res: HttpResponse): Promise<GroupClientsView | { error: string }> {
    const start = performance.now();
    res.setHeader('Cache-Control', 'no-store');
    try {
      const admin = this.console.admin;
      const conn = await admin.consumerConnection(group).catch(() => undefined);
      const ids = [...new Set(conn?.connections.map((c) => c.clientId) ?? [])].sort();
      const clients = await Promise.all(
        ids.map(async (clientId): Promise<GroupClientsView['clients'][number]> => {
          try {
            const info = await admin.consumerRunningInfo(group, clientId);
            return {
              clientId,
              subscriptions: info.subscriptions.map((s) => ({ topic: s.topic, subString: s.subString, expressionType: s.expressionType })),
              error: null,
            };
          } catch (e) {
            return { clientId, subscriptions: [], error: (e as Error).message };
          }
        }),
      );
      const answered = clients.filter((c) => c.error === null);
      this.metrics.done('group_clients', 'ok', performance.now() - start);
      return { group, clients, consistent: new Set(answered.map((c) => keyOf(c.subscriptions))).size <= 1 };
    } catch (e) {
      this.metrics.done('group_clients', 'error', performance.now() - start);
      log.warn(`group_clients: ${(e as Error).message}`);
      res.status(502);
      return { error: (e as Error).message };
    }
  }
}
