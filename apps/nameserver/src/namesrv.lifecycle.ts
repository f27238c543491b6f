import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createLogger } from '@rocketmq-ts/remoting';
import { type RemotingServer } from '@rocketmq-ts/remoting/nest';
import { NAMESRV_CONFIG, type NamesrvConfig } from './config.js';
import { KvConfigManager } from './kv-config.manager.js';
import { NamesrvMetrics } from './metrics.js';
import { RouteInfoManager } from './route-info.manager.js';

export const REMOTING_SERVER = Symbol('RemotingServer');

const log = createLogger('namesrv');

/**
 * Start and stop of the name server's own services: load the KV config, expire silent brokers
 * every scanNotActiveBrokerInterval, unregister a broker as soon as its connection closes.
 */
@Injectable()
export class NamesrvLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private scanTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(NAMESRV_CONFIG) private readonly config: NamesrvConfig,
    @Inject(REMOTING_SERVER) private readonly remoting: RemotingServer,
    private readonly routes: RouteInfoManager,
    private readonly kv: KvConfigManager,
    private readonly metrics: NamesrvMetrics,
  ) {}

  onModuleInit(): void {
    const n = this.kv.load();
    log.info(`KV config loaded with ${n} entries from ${this.kv.path}`);
    this.remoting.on('connect', () => this.metrics.setConnections(this.remoting.connectionCount));
    this.remoting.on('close', (conn, reason) => {
      this.routes.onConnectionClosed(conn, reason);
      this.metrics.setConnections(this.remoting.connectionCount);
      this.metrics.setRouteCounts(this.routes.liveBrokerCount, this.routes.topicCount);
    });
  }

  onApplicationBootstrap(): void {
    this.scanTimer = setInterval(() => {
      try {
        if (this.routes.scanNotActiveBroker() > 0) this.metrics.setRouteCounts(this.routes.liveBrokerCount, this.routes.topicCount);
      } catch (e) {
        log.error('broker expiry scan failed', e);
      }
    }, this.config.scanNotActiveBrokerInterval);
    this.scanTimer.unref();
  }

  beforeApplicationShutdown(signal?: string): void {
    log.info(`shutting down${signal ? ` on ${signal}` : ''}`);
    clearInterval(this.scanTimer);
    this.scanTimer = undefined;
  }

  onApplicationShutdown(): void {
    log.info('stopped');
  }
}
