import type { SocketAddress } from '@rocketmq-ts/common';
import { PermName } from '@rocketmq-ts/protocol';
import { parseDelayLevels } from '@rocketmq-ts/store';
import type { BrokerConfig } from './config.js';

export type BrokerLifecycleState = 'new' | 'loaded' | 'running' | 'stopping' | 'stopped';

/**
 * Who this broker is and where it stands: its address, role and lifecycle state. Small and
 * read-mostly; the processors ask it whether they may serve (running, master, readable).
 */
export class BrokerState {
  readonly storeHost: SocketAddress;
  readonly brokerAddr: string;
  /** Delay level → ms, from messageDelayLevel. */
  readonly delayLevels: number[];
  readonly startTime = Date.now();
  state: BrokerLifecycleState = 'new';
  /** The `-c` file, where UPDATE_BROKER_CONFIG persists changes. */
  configFile: string | undefined;
  /** The last round of name-server registrations reached at least one. */
  registered = false;

  constructor(private readonly config: BrokerConfig) {
    this.storeHost = { address: config.brokerIP1, port: config.listenPort };
    this.brokerAddr = `${config.brokerIP1}:${config.listenPort}`;
    this.delayLevels = parseDelayLevels(config.store.messageDelayLevel);
  }

  get isMaster(): boolean {
    return this.config.brokerRole !== 'SLAVE';
  }

  get readable(): boolean {
    return (this.config.brokerPermission & PermName.PERM_READ) !== 0;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The body of /health. */
  health(): Record<string, unknown> {
    const c = this.config;
    return { role: c.brokerRole, brokerName: c.brokerName, brokerId: c.brokerId, state: this.state, registered: this.registered };
  }
}
