// Options both consumers take, and their resolution against a consumer's defaults.
import type { MQClientInstance } from '../client-instance.js';
import { withDefaults, type ClientOptions, type Widen } from '../config.js';
import { Log, defaultClientLogger } from '../logger.js';
import type { ConsumeFromWhere, MessageModel } from '../types.js';
import type { AllocateStrategy } from './allocate.js';
import { LocalFileOffsetStore, RemoteBrokerOffsetStore, defaultLocalOffsetDir, type OffsetStore } from './offset-store.js';
import { resolveStrategy, type AllocateStrategyOption } from './rebalance.js';

export interface ConsumerBaseOptions extends ClientOptions {
  /** Consumer group (required). */
  group: string;
  messageModel?: MessageModel;
  /** Where a group with no committed offset starts. */
  consumeFromWhere?: ConsumeFromWhere;
  /** For CONSUME_FROM_TIMESTAMP: ms since the epoch (default: 30 minutes ago). */
  consumeTimestamp?: number;
  allocateStrategy?: AllocateStrategyOption;
  /** Broadcasting: directory of the local offset files. */
  offsetStoreDir?: string;
  /**
   * A group that never committed starts where consumeFromWhere says even on a queue whose first
   * message is still stored. By default the broker answers 0 there (RocketMQ's rule), so such a
   * group reads the queue from the start.
   */
  strictConsumeFromWhere?: boolean;
}

interface ConsumerDefaults {
  messageModel: MessageModel;
  consumeFromWhere: ConsumeFromWhere;
}

export type ResolvedConsumerOptions<D> = Widen<D> & { consumeTimestamp: number; offsetStoreDir: string };

/**
 * A consumer's options with its defaults applied, kept the way both consumers read them. The
 * consumers extend it as RocketMQ's consumers extend their client config.
 */
export abstract class ConsumerConfig<D extends ConsumerDefaults> {
  readonly group: string;
  readonly messageModel: MessageModel;
  readonly consumeFromWhere: ConsumeFromWhere;
  readonly log: Log;
  protected readonly o: ResolvedConsumerOptions<D>;
  /** What the shared client instance is looked up (or created) with. */
  protected readonly clientOptions: ClientOptions;
  protected readonly strategy: AllocateStrategy;
  private readonly strict: boolean;

  protected constructor(options: ConsumerBaseOptions & { readonly [K in keyof D]?: Widen<D>[K] | undefined }, defaults: D, logComponent: string) {
    const { group, ...clientOptions } = options;
    this.group = group;
    this.clientOptions = clientOptions;
    this.strict = options.strictConsumeFromWhere ?? false;
    this.strategy = resolveStrategy(options.allocateStrategy);
    this.o = {
      ...withDefaults(defaults, options),
      consumeTimestamp: options.consumeTimestamp ?? Date.now() - 30 * 60_000,
      offsetStoreDir: options.offsetStoreDir ?? defaultLocalOffsetDir(),
    };
    this.messageModel = options.messageModel ?? defaults.messageModel;
    this.consumeFromWhere = options.consumeFromWhere ?? defaults.consumeFromWhere;
    this.log = new Log(options.logger ?? defaultClientLogger(logComponent));
  }

  /** Broadcasting keeps offsets in a local file per client; clustering commits them to the broker. */
  protected newOffsetStore(inst: MQClientInstance): OffsetStore {
    if (this.messageModel === 'BROADCASTING') return new LocalFileOffsetStore(this.o.offsetStoreDir, inst.clientId, this.group);
    return new RemoteBrokerOffsetStore(inst, this.group, this.strict ? false : undefined);
  }
}
