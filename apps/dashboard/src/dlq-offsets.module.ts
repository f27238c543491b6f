import type { Provider } from '@nestjs/common';
import { DASHBOARD_CONFIG, type DashboardConfig } from './config.js';
import { ConsoleService } from './console.service.js';
import { DeadLetterService } from './dlq.service.js';
import { OffsetResetService } from './offsets.service.js';

export { DeadLetterOffsetController } from './dlq-offsets.controller.js';

/** The dead-letter and offset-reset services, built on the console's admin access. */
export const deadLetterOffsetProviders: Provider[] = [
  {
    provide: DeadLetterService,
    useFactory: (c: ConsoleService, cfg: DashboardConfig) => new DeadLetterService(c, cfg),
    inject: [ConsoleService, DASHBOARD_CONFIG],
  },
  {
    provide: OffsetResetService,
    useFactory: (c: ConsoleService, cfg: DashboardConfig) => new OffsetResetService(c, cfg),
    inject: [ConsoleService, DASHBOARD_CONFIG],
  },
];
