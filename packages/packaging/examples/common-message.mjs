// Domain types shared by every package: a message with tags, keys and properties.
//   node common-message.mjs
import { Message, MessageConst } from '@rocketmq-ts/common';

const m = new Message('OrderEvents', Buffer.from('order 1 created'), { tags: 'TagA', keys: ['order-1', 'customer-7'] });
m.properties.set('region', 'eu');
console.log(
  `RESULT ${JSON.stringify({ topic: m.topic, tags: m.properties.get(MessageConst.PROPERTY_TAGS), keys: m.properties.get(MessageConst.PROPERTY_KEYS), region: m.properties.get('region') })}`,
);
