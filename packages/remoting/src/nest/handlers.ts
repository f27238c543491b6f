import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import type { RequestHandler } from '../connection.js';

export const REMOTING_HANDLER_CODES = 'rocketmq-ts:remoting-handler-codes';

/**
 * Marks a provider or controller method as the handler of one or more request codes. It is also
 * a `@MessagePattern(code)`, so Nest sees an ordinary message handler; RemotingServer, however,
 * calls the method directly (bound once at listen time), with no pipes, interceptors or RxJS on
 * the request path. Signature: `(cmd: RemotingCommand, conn: RemotingConnection) => reply | null`.
 */
export function RemotingHandler(...codes: number[]): MethodDecorator {
  if (codes.length === 0) throw new Error('@RemotingHandler needs at least one request code');
  const pattern = MessagePattern(codes.length === 1 ? codes[0] : codes);
  return (target, key, descriptor) => {
    const fn = descriptor.value as unknown as object;
    const prev = (Reflect.getMetadata(REMOTING_HANDLER_CODES, fn) as number[] | undefined) ?? [];
    Reflect.defineMetadata(REMOTING_HANDLER_CODES, [...prev, ...codes], fn);
    pattern(target, key, descriptor);
    return descriptor;
  };
}

/** Finds every `@RemotingHandler` method among the app's providers and controllers. */
@Injectable()
export class RemotingHandlerExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** [code, method bound to its instance]; throws when two methods claim one code. */
  explore(): Array<[number, RequestHandler]> {
    const out: Array<[number, RequestHandler]> = [];
    const owners = new Map<number, string>();
    const seen = new Set<object>();
    for (const w of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance = w.instance as Record<string, unknown> | null | undefined;
      if (instance === null || instance === undefined || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      const proto = Object.getPrototypeOf(instance) as object | null;
      if (proto === null) continue;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const fn = instance[name];
        if (typeof fn !== 'function') continue;
        const codes = Reflect.getMetadata(REMOTING_HANDLER_CODES, fn) as number[] | undefined;
        if (codes === undefined) continue;
        if (!w.isDependencyTreeStatic()) {
          throw new Error(`${w.name as string}.${name}: request-scoped providers cannot be remoting handlers`);
        }
        const bound = (fn as RequestHandler).bind(instance);
        const where = `${instance.constructor.name}.${name}`;
        for (const code of codes) {
          const other = owners.get(code);
          if (other !== undefined) throw new Error(`request code ${code} has two handlers: ${other} and ${where}`);
          owners.set(code, where);
          out.push([code, bound]);
        }
      }
    }
    return out;
  }
}

/** Import into the app module that hosts the handlers; pass the explorer to RemotingServer. */
@Module({
  imports: [DiscoveryModule],
  providers: [RemotingHandlerExplorer],
  exports: [RemotingHandlerExplorer],
})
export class RemotingModule {}
