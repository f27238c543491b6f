import { Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MetricsModule } from '@rocketmq-ts/metrics';
import { RemotingModule } from '@rocketmq-ts/remoting/nest';
import { BrokerRuntime } from './broker-runtime.js';
import { ClientManageProcessor } from './processor/client-manage.processor.js';
import { ConsumerManageProcessor } from './processor/consumer-manage.processor.js';
import { PullMessageProcessor } from './processor/pull.processor.js';
import { SendMessageProcessor } from './processor/send.processor.js';
import { AdminBrokerProcessor } from './processor/admin.processor.js';
import { QueryMessageProcessor } from './processor/query.processor.js';

/** Maps the broker's lifecycle onto Nest's hooks (start-up order is in main.ts). */
@Injectable()
export class BrokerLifecycle implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(private readonly rt: BrokerRuntime) {}

  async onModuleInit(): Promise<void> {
    await this.rt.load();
    await this.rt.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.rt.beforeShutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.rt.shutdown();
  }
}

@Module({})
export class BrokerModule {
  static register(rt: BrokerRuntime, ready: () => boolean): DynamicModule {
    return {
      module: BrokerModule,
      imports: [
        RemotingModule,
        MetricsModule.forRoot({
          registry: rt.metrics.registry,
          ready,
          health: () => ({
            role: rt.config.brokerRole,
            brokerName: rt.config.brokerName,
            brokerId: rt.config.brokerId,
            state: rt.state,
            registered: rt.outer.lastRegisterOk,
          }),
        }),
      ],
      providers: [
        { provide: BrokerRuntime, useValue: rt },
        BrokerLifecycle,
        SendMessageProcessor,
        PullMessageProcessor,
        ClientManageProcessor,
        ConsumerManageProcessor,
        AdminBrokerProcessor,
        QueryMessageProcessor,
      ],
    };
  }
}
