// Produce and consume with @rocketmq-ts/client, installed from its tarball with plain npm.
//   node client-quickstart.mjs <namesrvAddr> <topic> <count>
// Prints `RESULT {"sent":n,"received":n}` and exits 0 when every message came back.
import { Message, Producer, PushConsumer } from '@rocketmq-ts/client';

const [namesrvAddr = '127.0.0.1:9876', topic = 'QuickstartTopic', countArg = '10'] = process.argv.slice(2);
const count = Number(countArg);
const giveUp = setTimeout(() => {
  console.error('gave up after 60 s');
  process.exit(2);
}, 60_000);

const producer = new Producer({ group: 'quickstart-producer', namesrvAddr });
await producer.start();
const sent = new Set();
for (let i = 0; i < count; i++) {
  const r = await producer.send(new Message(topic, Buffer.from(`hello ${i}`), { tags: 'TagA', keys: `key-${i}` }));
  sent.add(r.msgId);
}
await producer.shutdown();

const received = new Set();
const consumer = new PushConsumer({ group: 'quickstart-consumer', namesrvAddr, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
consumer.subscribe(topic, 'TagA');
const done = new Promise((resolve) => {
  consumer.registerMessageListener(async (msgs) => {
    for (const m of msgs) if (sent.has(m.msgId)) received.add(m.msgId);
    if (received.size >= sent.size) resolve();
    return 'CONSUME_SUCCESS';
  });
});
await consumer.start();
await done;
await consumer.shutdown();
clearTimeout(giveUp);
console.log(`RESULT ${JSON.stringify({ sent: sent.size, received: received.size })}`);
