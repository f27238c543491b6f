import { Controller, Get, Inject, Injectable, Param, Res, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ChartsService } from './charts.service.js';
import { DashboardMetrics } from './metrics.js';
import type { ChartView } from './web/views.js';

interface HttpResponse {
  setHeader(name: string, value: string): unknown;
}

/** `/api/charts/...`: the sampled series; answered from memory, never a cluster call. */
@Controller('api/charts')
export class ChartsController {
  constructor(
    @Inject(ChartsService) private readonly charts: ChartsService,
    @Inject(DashboardMetrics) private readonly metrics: DashboardMetrics,
  ) {}

  private answer(route: string, res: HttpResponse, fn: () => ChartView): ChartView {
    const start = performance.now();
    res.setHeader('Cache-Control', 'no-store');
    const out = fn();
    this.metrics.done(route, 'ok', performance.now() - start);
    return out;
  }

  @Get('cluster')
  cluster(@Res({ passthrough: true }) res: HttpResponse): ChartView {
    return this.answer('chart_cluster', res, () => this.charts.cluster());
  }

  @Get('topics/:topic')
  topic(@Param('topic') topic: string, @Res({ passthrough: true }) res: HttpResponse): ChartView {
    return this.answer('chart_topic', res, () => this.charts.topic(topic));
  }

  @Get('groups/:group')
  group(@Param('group') group: string, @Res({ passthrough: true }) res: HttpResponse): ChartView {
    return this.answer('chart_group', res, () => this.charts.group(group));
  }
}

/** Starts the sampler once the app is up, stops it before the admin clients close. */
@Injectable()
export class ChartsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(ChartsService) private readonly charts: ChartsService) {}

  onApplicationBootstrap(): void {
    this.charts.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.charts.stop();
  }
}
