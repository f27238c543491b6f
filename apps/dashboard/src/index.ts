// @rocketmq-ts/dashboard: the operator's web console (started as `mqdashboard -c dashboard.conf`).
export { DashboardConfigSchema, loadDashboardConfig, type DashboardConfig } from './config.js';
export { ConsoleService, BadRequest, messageView, topicKind, isSystemGroup } from './console.service.js';
export type * from './web/views.js';
