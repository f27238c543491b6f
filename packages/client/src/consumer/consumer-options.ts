// Options both consumers take, and their resolution against a consumer's defaults.
import { withDefaults, type ClientOptions, type Widen } from '../config.js';
import type { ConsumeFromWhere, MessageModel } from '../types.js';
import type { AllocateStrategy } from './allocate.js';
import { defaultLocalOffsetDir } from './offset-store.js';
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

/** A consumer's options with its defaults applied, split the way the consumers keep them. */
export function resolveConsumerOptions<D extends ConsumerDefaults>(
  options: ConsumerBaseOptions & { readonly [K in keyof D]?: Widen<D>[K] | undefined },
  defaults: D,
): { group: string; clientOptions: ClientOptions; strict: boolean; strategy: AllocateStrategy; o: ResolvedConsumerOptions<D> } {
  const { group, ...clientOptions } = options;
  return {
    group,
    clientOptions,
    strict: options.strictConsumeFromWhere ?? false,
    strategy: resolveStrategy(options.allocateStrategy),
    o: {
      ...withDefaults(defaults, options),
      consumeTimestamp: options.consumeTimestamp ?? Date.now() - 30 * 60_000,
      offsetStoreDir: options.offsetStoreDir ?? defaultLocalOffsetDir(),
    },
  };
}
