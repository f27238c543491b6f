import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The gRPC v2 API exactly as the official 5.x clients speak it: the `.proto` files shipped in the
 * `rocketmq-client-nodejs` package, loaded at start-up (never a copy of ours). Messages are plain
 * objects: camelCase fields, int64 as numbers, enums as numbers, bytes as Buffers, unset fields
 * absent, oneofs named by a virtual field.
 */
export function protoRoot(): string {
  const require = createRequire(import.meta.url);
  // The package's main is dist/index.js; the protos sit beside dist/.
  return join(dirname(require.resolve('rocketmq-client-nodejs')), '..', 'proto');
}

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
};

export interface LoadedApi {
  service: grpc.ServiceDefinition;
  /** The package as grpc-js sees it (clients in tests are built from it). */
  pkg: grpc.GrpcObject;
}

let cached: LoadedApi | undefined;

export function loadMessagingService(): LoadedApi {
  if (cached) return cached;
  const def = protoLoader.loadSync('apache/rocketmq/v2/service.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot()] });
  const pkg = grpc.loadPackageDefinition(def);
  const v2 = ((pkg['apache'] as grpc.GrpcObject)['rocketmq'] as grpc.GrpcObject)['v2'] as grpc.GrpcObject;
  const ctor = v2['MessagingService'] as grpc.ServiceClientConstructor;
  cached = { service: ctor.service, pkg: v2 };
  return cached;
}
