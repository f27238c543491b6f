import { jestConfig } from '@rocketmq-ts/jest-preset';

export default jestConfig(import.meta.dirname, 'dashboard');
