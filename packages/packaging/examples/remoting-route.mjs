// A raw remoting call: ask a name server for a topic's route, as every RocketMQ client does.
//   node remoting-route.mjs <namesrvAddr> <topic>
import { RemotingCommand, RequestCode, ResponseCode, parseLenientJson } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';

const [namesrvAddr = '127.0.0.1:9876', topic = 'TBW102'] = process.argv.slice(2);
const client = new RemotingClient();
try {
  const reply = await client.invoke(namesrvAddr, RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), 3000);
  if (reply.code !== ResponseCode.SUCCESS) throw new Error(`route of ${topic}: code ${reply.code} ${reply.remark ?? ''}`);
  // TopicRouteData (queueDatas, brokerDatas) as fastjson writes it: brokerAddrs has bare integer keys.
  const route = parseLenientJson(reply.body.toString('utf8'));
  console.log(`RESULT ${JSON.stringify({ brokers: route.brokerDatas.map((b) => b.brokerName), queues: route.queueDatas.length })}`);
} finally {
  client.close();
}
