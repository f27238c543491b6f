// RocketMQ's wire codec, no sockets: encode a request frame, split it across chunks, decode it back.
//   node protocol-roundtrip.mjs
import { FrameDecoder, RemotingCommand, RequestCode, SerializeType, decodeCommand, encodeCommand } from '@rocketmq-ts/protocol';

const req = RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OrderEvents' });
req.serializeType = SerializeType.ROCKETMQ; // or SerializeType.JSON, what Java clients send by default
const frame = encodeCommand(req); // 4-byte length, header length + type, header, body

const decoder = new FrameDecoder();
const frames = [];
for (let i = 0; i < frame.length; i += 7) decoder.push(frame.subarray(i, i + 7), (f) => frames.push(f));
const back = decodeCommand(frames[0]);
console.log(`RESULT ${JSON.stringify({ frames: frames.length, code: back.code, topic: back.ext('topic'), bytes: frame.length })}`);
