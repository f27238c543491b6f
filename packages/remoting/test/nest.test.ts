import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { RemotingCommand, ResponseCode } from '@rocketmq-ts/protocol';
import { RemotingClient, RemotingConnection } from '../src/index.js';
import { NestLogger, RemotingHandler, RemotingHandlerExplorer, RemotingModule, RemotingServer } from '../src/nest/index.js';

@Injectable()
class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}

const calls: Array<{ self: unknown; args: unknown[] }> = [];

@Controller()
class Handlers {
  constructor(private readonly greeter: Greeter) {}

  @RemotingHandler(2000, 2002)
  direct(cmd: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    // eslint-disable-next-line prefer-rest-params
    calls.push({ self: this, args: [...arguments] });
    return RemotingCommand.responseTo(
      cmd,
      ResponseCode.SUCCESS,
      `${this.greeter.greet(cmd.ext('name') ?? '?')} via ${conn instanceof RemotingConnection ? 'conn' : 'other'} code ${cmd.code}`,
    );
  }

  @MessagePattern(2001)
  async viaNest(cmd: RemotingCommand): Promise<RemotingCommand> {
    return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, 'through nest');
  }
}

@Module({ imports: [RemotingModule], controllers: [Handlers], providers: [Greeter] })
class TestModule {}

let app: INestMicroservice;
let server: RemotingServer;
const client = new RemotingClient();

beforeAll(async () => {
  server = new RemotingServer({ port: 0, host: '127.0.0.1' });
  app = await NestFactory.createMicroservice(TestModule, { strategy: server, logger: new NestLogger() });
  server.useHandlerSource(() => app.get(RemotingHandlerExplorer).explore());
  await app.listen();
});

afterAll(async () => {
  client.close();
  await app.close();
});

describe('RemotingServer as a Nest transport', () => {
  it('calls @RemotingHandler methods directly, bound to the provider, with (cmd, conn)', async () => {
    const addr = `127.0.0.1:${server.port}`;
    const a = await client.invoke(addr, RemotingCommand.request(2000, { name: 'nest' }), 2000);
    expect(a.remark).toBe('hello nest via conn code 2000');
    const b = await client.invoke(addr, RemotingCommand.request(2002, { name: 'x' }), 2000);
    expect(b.remark).toBe('hello x via conn code 2002');
    expect(calls.at(-1)!.self).toBeInstanceOf(Handlers);
    expect(calls.at(-1)!.args).toHaveLength(2);
  });

  it('falls back to Nest message handlers for plain @MessagePattern(code)', async () => {
    const res = await client.invoke(`127.0.0.1:${server.port}`, RemotingCommand.request(2001), 2000);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.remark).toBe('through nest');
  });

  it('the table is the direct method, not the Nest proxy', () => {
    const h = server.handlers.get(2000)!;
    expect(h.name).toBe('bound direct');
  });
});
