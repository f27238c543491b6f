import { Module, type DynamicModule } from '@nestjs/common';
import { MetricsModule } from '@rocketmq-ts/metrics';
import { createLogger } from '@rocketmq-ts/remoting';
import { RemotingModule, type RemotingServer } from '@rocketmq-ts/remoting/nest';
import { NAMESRV_CONFIG, expandHome, type NamesrvConfig } from './config.js';
import { KvConfigManager } from './kv-config.manager.js';
import { NamesrvMetrics } from './metrics.js';
import { NamesrvLifecycle, REMOTING_SERVER } from './namesrv.lifecycle.js';
import { NamesrvProcessor } from './namesrv.processor.js';
import { RouteInfoManager } from './route-info.manager.js';

export interface NamesrvContext {
  config: NamesrvConfig;
  remoting: RemotingServer;
  metrics: NamesrvMetrics;
  /** `/ready` answers 200 once this returns true. */
  ready: () => boolean;
}

@Module({})
export class AppModule {
  static register(ctx: NamesrvContext): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RemotingModule,
        MetricsModule.forRoot({
          registry: ctx.metrics.registry,
          ready: ctx.ready,
          health: () => ({ role: 'nameserver', listenPort: ctx.config.listenPort }),
        }),
      ],
      controllers: [NamesrvProcessor],
      providers: [
        { provide: NAMESRV_CONFIG, useValue: ctx.config },
        { provide: REMOTING_SERVER, useValue: ctx.remoting },
        { provide: NamesrvMetrics, useValue: ctx.metrics },
        {
          provide: RouteInfoManager,
          useFactory: () => new RouteInfoManager(ctx.config, createLogger('route')),
        },
        {
          provide: KvConfigManager,
          useFactory: () => new KvConfigManager(expandHome(ctx.config.kvConfigPath), createLogger('kvconfig')),
        },
        NamesrvLifecycle,
      ],
    };
  }
}
