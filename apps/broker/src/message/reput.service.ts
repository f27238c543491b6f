import { Inject, Injectable } from '@nestjs/common';
import { encodeProperties, type DecodedMessage } from '@rocketmq-ts/protocol';
import type { MessageStore, PutMessageResult } from '@rocketmq-ts/store';
import { MESSAGE_STORE } from '../tokens.js';

/**
 * Stores a copy of a stored message under another topic/queue with new properties: retry,
 * dead-letter and delayed delivery. The copy never waits for a flush.
 */
@Injectable()
export class RePutService {
  constructor(@Inject(MESSAGE_STORE) private readonly store: MessageStore) {}

  rePut(m: DecodedMessage, topic: string, queueId: number, props: Map<string, string>, reconsumeTimes: number): Promise<PutMessageResult> {
    return this.store.putMessage({
      topic,
      queueId,
      body: m.body,
      flag: m.flag,
      propertiesString: encodeProperties(props),
      sysFlag: m.sysFlag,
      bornTimestamp: m.bornTimestamp,
      bornHost: m.bornHost,
      reconsumeTimes,
      waitStoreMsgOK: false,
    });
  }
}
