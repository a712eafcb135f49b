/**
 * Worker thread entry: builds its stats view from the shared buffers, listens on its own dups
 * of the listening sockets, and applies what the supervisor pushes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AcceptLoop, RoutedUpstream, type WorkerSettings, installMeAccelerators } from '@mtedge/dataplane';
import { WorkerStats } from '@mtedge/stats';
import { WORKER_PROTOCOL_VERSION, assertNever, type SupervisorToWorker, type WorkerBoot, type WorkerToSupervisor } from '../shared/messages.js';

const boot = workerData as WorkerBoot;
const port = parentPort!;

function send(m: WorkerToSupervisor): void {
  port.postMessage(m);
}

/** Events are rare by design, but a probe flood must not become a message flood: cap per type. */
const EVENT_BUDGET_PER_SEC = 20;
const eventWindow = new Map<string, { sec: number; n: number; dropped: number }>();
function event(eventType: string, context: string): void {
  const sec = Math.floor(Date.now() / 1000);
  let w = eventWindow.get(eventType);
  if (!w || w.sec !== sec) {
    if (w && w.dropped > 0) send({ type: 'event', eventType: 'events_suppressed', context: `${eventType}: ${w.dropped} more in 1s (worker ${boot.workerIndex})` });
    w = { sec, n: 0, dropped: 0 };
    eventWindow.set(eventType, w);
  }
  // The worker index lets an operator (and the e2e tests) see which thread refused or failed what.
  if (w.n++ < EVENT_BUDGET_PER_SEC) send({ type: 'event', eventType, context: `${context} worker=${boot.workerIndex}` });
  else w.dropped++;
}

async function main(): Promise<void> {
  installMeAccelerators();
  if (boot.protocolVersion !== WORKER_PROTOCOL_VERSION) throw new Error(`worker protocol ${boot.protocolVersion} != ${WORKER_PROTOCOL_VERSION}`);
  const stats = new WorkerStats(boot.stats, boot.workerIndex);
  let current: WorkerSettings = boot.settings;
  // Built here (not inside the loop) so the me-status request can reach its pool.
  const upstream = new RoutedUpstream(() => current, stats, event);
  const loop = new AcceptLoop({ stats, settings: boot.settings, event, upstream });
  port.on('message', (m: SupervisorToWorker) => {
    switch (m.type) {
      case 'settings':
        current = m.settings;
        loop.update(m.settings);
        send({ type: 'applied', revision: m.settings.revision });
        break;
      case 'kick-user':
        loop.kickUser(m.username);
        break;
      case 'me-status': {
        const me = current.me;
        send({ type: 'me-status', id: m.id, workerIndex: boot.workerIndex, snapshot: me !== undefined && me.enabled ? upstream.status() : undefined });
        break;
      }
      case 'shutdown':
        void loop.close().then(() => process.exit(0));
        break;
      default:
        assertNever(m, 'supervisor message');
    }
  });
  await loop.listen(boot.listeners);
  send({ type: 'ready', workerIndex: boot.workerIndex });
}

main().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  send({ type: 'fatal', message: e.message, stack: e.stack });
  process.exit(1);
});
