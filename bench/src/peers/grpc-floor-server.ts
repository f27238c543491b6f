#!/usr/bin/env node
// The floor under any gRPC front door on this machine: a grpc-js server whose one unary method answers
// a small fixed reply without decoding anything. Started as its own process by the proxy bench so its
// CPU per call is measured apart from the client's.
import * as grpc from '@grpc/grpc-js';

const port = Number(process.argv[2] ?? 0);
const reply = Buffer.alloc(32, 1);
const identity = (b: Buffer): Buffer => b;
const service: grpc.ServiceDefinition = {
  echo: {
    path: '/bench.Floor/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const server = new grpc.Server();
server.addService(service, {
  echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, reply),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`grpc floor server: ${err.message}`);
    process.exit(1);
  }
  console.log(`grpc floor server listening on ${bound}`);
});
const stop = (): void => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

export const floorService = service;
