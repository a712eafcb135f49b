/** Small helpers shared by handler modules. */
import type { ControlPlane } from '../control-plane.js';

export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

export function uptimeSeconds(cp: ControlPlane): number {
  return Math.max(0, (Date.now() - cp.runtime().started_at_ms) / 1000);
}

/** Contract log levels are telemt's four; winston-style names map onto them. */
export function contractLogLevel(level: string): 'debug' | 'verbose' | 'normal' | 'silent' {
  switch (level) {
    case 'debug':
    case 'verbose':
    case 'silent':
      return level;
    default:
      return 'normal';
  }
}

export function sortedUsernames(cp: ControlPlane): string[] {
  return Object.keys(cp.current().config.access.users).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
