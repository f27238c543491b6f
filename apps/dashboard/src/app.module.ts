import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { MetricsModule } from '@rocketmq-ts/metrics';
import { createLogger } from '@rocketmq-ts/remoting';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ApiController } from './api.controller.js';
import { AuthController, AuthInterceptor, AuthLifecycle } from './auth/auth.controller.js';
import { AuthService, isAclRefusal } from './auth/auth.service.js';
import { ChartsController, ChartsLifecycle } from './charts.controller.js';
import { ChartsService } from './charts.service.js';
import { GroupClientsController } from './group-clients.controller.js';
import { DASHBOARD_CONFIG, type DashboardConfig } from './config.js';
import { ConsoleService } from './console.service.js';
import { DashboardMetrics } from './metrics.js';
import { DeadLetterOffsetController, deadLetterOffsetProviders } from './dlq-offsets.module.js';

const log = createLogger('dashboard');

export interface DashboardContext {
  config: DashboardConfig;
  console: ConsoleService;
  charts: ChartsService;
  auth: AuthService;
  metrics: DashboardMetrics;
  /** `/ready` answers 200 once this returns true. */
  ready: () => boolean;
}

/** Start and stop of the admin client, one log line per step. */
@Injectable()
export class DashboardLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(DASHBOARD_CONFIG) private readonly config: DashboardConfig,
    @Inject(ConsoleService) private readonly console: ConsoleService,
    @Inject(AuthService) private readonly auth: AuthService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Not fatal: the console starts with the cluster down and shows the error on each page.
    try {
      const c = await this.console.admin.clusterInfo();
      log.info(`admin client connected to name servers ${this.config.namesrvAddr} (${c.brokerAddrTable.size} broker groups)`);
    } catch (e) {
      if (isAclRefusal((e as Error).message)) this.auth.markRefused('startup check');
      else log.warn(`name servers ${this.config.namesrvAddr} not reachable yet: ${(e as Error).message}`);
    }
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    log.info(`shutting down${signal ? ` on ${signal}` : ''}`);
    await this.console.shutdown();
    log.info('admin client closed');
  }
}

@Module({})
export class AppModule {
  static register(ctx: DashboardContext): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MetricsModule.forRoot({
          registry: ctx.metrics.registry,
          ready: ctx.ready,
          health: () => ({ role: 'dashboard', listenPort: ctx.config.listenPort, namesrvAddr: ctx.config.namesrvAddr }),
        }),
      ],
      controllers: [ApiController, DeadLetterOffsetController, ChartsController, AuthController, GroupClientsController],
      providers: [
        { provide: DASHBOARD_CONFIG, useValue: ctx.config },
        { provide: ConsoleService, useValue: ctx.console },
        { provide: DashboardMetrics, useValue: ctx.metrics },
        { provide: ChartsService, useValue: ctx.charts },
        { provide: AuthService, useValue: ctx.auth },
        { provide: APP_INTERCEPTOR, useClass: AuthInterceptor },
        AuthLifecycle,
        DashboardLifecycle,
        ...deadLetterOffsetProviders,
        ChartsLifecycle,
      ],
    };
  }
}
