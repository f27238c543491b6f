import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { Log } from '@rocketmq-ts/client';
import { MetricsModule } from '@rocketmq-ts/metrics';
import { ClientsController } from './clients.controller.js';
import { Cluster } from './cluster/cluster.js';
import { PROXY_CONFIG, type ProxyConfig } from './config.js';
import type { ProxyAcl } from './grpc/acl.js';
import { GrpcServer } from './grpc/grpc-server.js';
import { MessagingService } from './messaging/messaging.service.js';
import { TelemetryHub } from './messaging/telemetry.js';
import { ProxyMetrics } from './metrics.js';
import type { SharedState } from './state/shared-state.js';

export const SHARED_STATE = Symbol('SharedState');
export const PROXY_LOG = Symbol('ProxyLog');

export interface ProxyContext {
  config: ProxyConfig;
  state: SharedState;
  cluster: Cluster;
  metrics: ProxyMetrics;
  log: Log;
  /** Set with aclEnable: every gRPC call is checked. */
  acl?: ProxyAcl | undefined;
  /** `/ready` answers 200 once this returns true. */
  ready: () => boolean;
}

/**
 * Start and stop of the proxy's services, one log line per step: the cluster client (routes,
 * brokers), telemetry and command routing, auto-renewal, then the gRPC listener; the reverse on
 * shutdown, letting calls in flight finish.
 */
@Injectable()
export class ProxyLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(PROXY_CONFIG) private readonly config: ProxyConfig,
    @Inject(SHARED_STATE) private readonly state: SharedState,
    @Inject(PROXY_LOG) private readonly log: Log,
    private readonly cluster: Cluster,
    private readonly telemetry: TelemetryHub,
    private readonly service: MessagingService,
    private readonly grpc: GrpcServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.cluster.start();
    this.log.info('lifecycle', `cluster client started (name servers ${this.config.namesrvAddr}, cluster ${this.config.rocketMQClusterName})`);
    this.telemetry.start();
    this.service.start();
    const port = await this.grpc.start();
    this.log.info('lifecycle', `gRPC MessagingService listening on ${this.config.bindAddress}:${port}`);
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.log.info('lifecycle', `shutting down${signal ? ` on ${signal}` : ''}`);
    await this.grpc.stop();
    this.service.stop();
    await this.cluster.shutdown();
    await this.state.close();
    this.log.info('lifecycle', 'stopped');
  }
}

@Module({})
export class ProxyModule {
  static register(ctx: ProxyContext): DynamicModule {
    return {
      module: ProxyModule,
      imports: [
        MetricsModule.forRoot({
          registry: ctx.metrics.registry,
          ready: ctx.ready,
          health: () => ({ role: 'proxy', grpcServerPort: ctx.config.grpcServerPort, sharedState: ctx.config.redisAddr ? 'redis' : 'memory' }),
        }),
      ],
      controllers: [ClientsController],
      providers: [
        { provide: PROXY_CONFIG, useValue: ctx.config },
        { provide: SHARED_STATE, useValue: ctx.state },
        { provide: PROXY_LOG, useValue: ctx.log },
        { provide: Cluster, useValue: ctx.cluster },
        { provide: ProxyMetrics, useValue: ctx.metrics },
        {
          provide: TelemetryHub,
          useFactory: () => new TelemetryHub(ctx.config, ctx.cluster, ctx.state, ctx.metrics, ctx.log),
        },
        {
          provide: MessagingService,
          inject: [TelemetryHub],
          useFactory: (t: TelemetryHub) => new MessagingService(ctx.config, ctx.cluster, ctx.state, t, ctx.metrics, ctx.log),
        },
        {
          provide: GrpcServer,
          inject: [MessagingService, TelemetryHub],
          useFactory: (s: MessagingService, t: TelemetryHub) => new GrpcServer(ctx.config, s, t, ctx.metrics, ctx.log, ctx.acl),
        },
        ProxyLifecycle,
      ],
    };
  }
}
