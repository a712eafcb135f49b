/** Route id -> handler. */
import type { HandlerTable } from './context.js';
import { getConfig, patchConfig, systemReload, systemReloadStatus } from './config.js';
import { health, healthReady } from './health.js';
import {
  runtimeConnectionsSummary,
  runtimeEventsRecent,
  runtimeGates,
  runtimeInitialization,
  runtimeMePoolState,
  runtimeMeQuality,
  runtimeMeSelftest,
  runtimeNatStun,
  runtimeTlsFingerprints,
  runtimeUpstreamQuality,
} from './runtime.js';
import { statsDcs, statsMeWriters, statsMinimalAll, statsSummary, statsUpstreams, statsUsersActiveIps, statsZeroAll } from './stats.js';
import { limitsEffective, securityPosture, securityWhitelist, systemInfo } from './system.js';
import { createUser, deleteUser, disableUser, enableUser, getUser, listUsers, patchUser, resetQuota, rotateSecret } from './users.js';

export const HANDLERS: HandlerTable = {
  health,
  healthReady,
  systemInfo,
  runtimeGates,
  runtimeInitialization,
  limitsEffective,
  securityPosture,
  securityWhitelist,
  statsSummary,
  statsZeroAll,
  statsUpstreams,
  statsMinimalAll,
  statsMeWriters,
  statsDcs,
  runtimeMePoolState,
  runtimeMeQuality,
  runtimeUpstreamQuality,
  runtimeNatStun,
  runtimeMeSelftest,
  runtimeConnectionsSummary,
  runtimeEventsRecent,
  runtimeTlsFingerprints,
  statsUsersActiveIps,
  statsUsers: listUsers,
  getConfig,
  patchConfig,
  systemReload,
  systemReloadStatus,
  listUsers,
  createUser,
  getUser,
  patchUser,
  deleteUser,
  rotateSecret,
  enableUser,
  disableUser,
  resetQuota,
};
