import { Controller, Get, Inject, Module, Res, type DynamicModule } from '@nestjs/common';
import type { Registry } from 'prom-client';

export interface MetricsModuleOptions {
  registry: Registry;
  /** `/ready` answers 200 while this returns true, else 503. Ready by default. */
  ready?: () => boolean;
  /** Extra fields for the `/health` body (store status, role, versions...). */
  health?: () => Record<string, unknown>;
}

export const METRICS_MODULE_OPTIONS = Symbol('METRICS_MODULE_OPTIONS');

/** The slice of the platform response we touch (express and fastify both have it). */
interface HttpResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_MODULE_OPTIONS) private readonly options: MetricsModuleOptions) {}

  @Get('metrics')
  async metrics(@Res({ passthrough: true }) res: HttpResponse): Promise<string> {
    res.setHeader('Content-Type', this.options.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    return this.options.registry.metrics();
  }

  @Get('health')
  health(@Res({ passthrough: true }) res: HttpResponse): Record<string, unknown> {
    try {
      return { status: 'UP', ...(this.options.health?.() ?? {}) };
    } catch (e) {
      res.status(503);
      return { status: 'DOWN', error: e instanceof Error ? e.message : String(e) };
    }
  }

  @Get('ready')
  ready(@Res({ passthrough: true }) res: HttpResponse): Record<string, unknown> {
    let ready: boolean;
    try {
      ready = this.options.ready?.() ?? true;
    } catch {
      ready = false;
    }
    if (!ready) res.status(503);
    return { status: ready ? 'READY' : 'NOT_READY' };
  }
}

/**
 * HTTP endpoints of every process, served by the app's Nest HTTP listener on
 * `metricsPromExporterPort`: `GET /metrics` (Prometheus text), `GET /health`, `GET /ready`.
 */
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsModuleOptions): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: METRICS_MODULE_OPTIONS, useValue: options }],
      exports: [METRICS_MODULE_OPTIONS],
    };
  }
}
