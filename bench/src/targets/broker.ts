import { existsSync } from 'node:fs';
import { appMain } from '@rocketmq-ts/testing';
import type { Row } from '../report.js';

/** The broker rows need apps/broker (issue 4); until it exists the harness reports them as pending. */
export function brokerTargetAvailable(): boolean {
  return existsSync(appMain('broker'));
}

export async function runBrokerScenarios(): Promise<Row[]> {
  return [{ scenario: '-', system: 'rocketmq-ts', durability: '-', msgsPerSec: NaN, mbPerSec: NaN, note: 'broker scenarios not wired yet' }];
}
