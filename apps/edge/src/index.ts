export { Supervisor, MTEDGE_VERSION } from './supervisor/supervisor.js';
export type { SupervisorOptions } from './supervisor/supervisor.js';
