/**
 * A ControlPlane for tests: a real config.toml in a temp dir, parsed and written with the config
 * package (parseConfigText + writeFileAtomic), with in-memory runtime state the tests can set.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, writeFileAtomic, type AtomicFsOps, type ConfigSnapshot } from '@mtedge/config';
import type { CountersSnapshot, UserRuntimeSnapshot } from '@mtedge/stats';
import type { ApiEventRecord, ControlPlane, EventsView, MeStatusSnapshot, NatStunView, ReloadOutcome, RuntimeState } from '../control-plane.js';

export const SECRET_ALICE = '0123456789abcdef0123456789abcdef';

export const BASE_CONFIG = `# mtedge test config: this comment must survive every mutation
[general]
use_middle_proxy = false
log_level = "normal"

[general.modes]
classic = false
secure = true
tls = true

[general.links]
public_host = "proxy.example.com"

[server]
port = 443

[server.api]
enabled = true
listen = "127.0.0.1:0"
whitelist = []

[censorship]
tls_domain = "example.com" # the fronting domain

[access.users]
# alice is the first user
alice = "${SECRET_ALICE}"
`;

const ZERO_USER: UserRuntimeSnapshot = {
  current_connections: 0,
  active_ips: [],
  recent_ips: [],
  octets_from_client: 0,
  octets_to_client: 0,
  total_octets: 0,
  quota_used_bytes: 0,
  quota_last_reset_epoch_secs: undefined,
};

/** A healthy two-worker ME: DC 2 fully up, DC -2 up, DC 4 down and rerouted. */
export function sampleMeStatus(now: number = Date.now()): MeStatusSnapshot {
  const w = (worker: number, id: number, dc: number, endpoint: string, state: 'ready' | 'connecting', clients: number): MeStatusSnapshot['writers'][number] => ({
    worker,
    writer_id: id,
    dc,
    endpoint,
    state,
    draining: false,
    degraded: false,
    bound_clients: clients,
    generation: 'ab'.repeat(32),
    warm: false,
    started_at_ms: now - 10_000,
    ready_at_ms: state === 'ready' ? now - 9000 : undefined,
    idle_ms: 1500,
    rtt_ema_ms: state === 'ready' ? 12.5 : undefined,
    local_addr: state === 'ready' ? '10.0.0.5:40000' : undefined,
  });
  const noReroute = { active: false, since_ms: undefined, last_ms: undefined, count: 0, reason: undefined };
  return {
    generated_at_ms: now,
    status: 'ready',
    stage: 'ready',
    init_attempts: 1,
    last_error: undefined,
    inputs: {
      generation: 'ab'.repeat(32),
      generation_seq: 1,
      secret_from: 'url',
      secret_source: 'https://core.telegram.org/getProxySecret',
      config_from: 'cache',
      config_source: '/var/lib/mtedge/proxy-config-v4.txt',
      loaded_at_ms: now - 20_000,
      date_skew_secs: 2,
      endpoints: { '2': ['192.0.2.150:8888'], '-2': ['192.0.2.151:8888'], '4': ['192.0.2.191:8888'] },
      default_dc: 2,
      key_select_hex: 'c4f9faca',
    },
    fallback_enabled: true,
    nat_ip: undefined,
    pool_size_per_worker: 1,
    workers_total: 2,
    workers_missing: [],
    partial: false,
    writers: [
      w(0, 1, 2, '192.0.2.150:8888', 'ready', 3),
      w(1, 1, 2, '192.0.2.150:8888', 'ready', 2),
      w(0, 2, -2, '192.0.2.151:8888', 'ready', 0),
      w(1, 2, -2, '192.0.2.151:8888', 'connecting', 0),
      w(0, 3, 4, '192.0.2.191:8888', 'connecting', 0),
    ],
    dcs: [
      { dc: -2, endpoints: ['192.0.2.151:8888'], configured_writers: 2, quarantined: [], reroute: noReroute },
      { dc: 2, endpoints: ['192.0.2.150:8888'], configured_writers: 2, quarantined: [], reroute: noReroute },
      {
        dc: 4,
        endpoints: ['192.0.2.191:8888'],
        configured_writers: 2,
        quarantined: [{ endpoint: '192.0.2.191:8888', remaining_ms: 800 }],
        reroute: { active: true, since_ms: now - 5000, last_ms: now - 1000, count: 7, reason: 'ME for DC 4: no ready writer' },
      },
    ],
    skew_samples: [{ at_ms: now - 20_000, skew_secs: 2, source: 'proxy_secret_date_header' }],
    first_ready_at_ms: now - 9000,
    kdf_errors_ewma_per_min: 0,
    ad_tag_configured: true,
    generations: {
      hardswap_enabled: true,
      active: 1,
      active_id: 'ab'.repeat(32),
      warm: 1,
      pending: 0,
      pending_since_ms: undefined,
      draining: [],
      seq_of: { ['ab'.repeat(32)]: 1 },
    },
  };
}

const nodeOps: AtomicFsOps = {
  open: (p, f, m) => fsp.open(p, f, m),
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  readFile: (p) => fsp.readFile(p),
  stat: (p) => fsp.stat(p),
};

export class FakeControlPlane implements ControlPlane {
  readonly version = '0.1.0-test';
  readonly engine = 'uWebSockets.js 20.30.0 (test)';
  /** When set, the next writes fail at rename (EBUSY), as a bind-mounted config.toml does. */
  failRename = false;
  runtimeUserSet: Set<string>;
  readonly userStats = new Map<string, UserRuntimeSnapshot>();
  readonly disconnected: string[] = [];
  readonly quotaResets: string[] = [];
  readonly eventLog: ApiEventRecord[] = [];
  eventsDropped = 0;
  eventsCapacity = 256;
  hosts: readonly string[] = ['proxy.example.com'];
  runtimeState: RuntimeState;
  counterState: CountersSnapshot;
  /** What meStatus() answers while use_middle_proxy = true. */
  meState: MeStatusSnapshot | undefined = sampleMeStatus();
  /** What natStun() answers while use_middle_proxy = true (undefined: no prober runs). */
  natStunState: NatStunView | undefined = undefined;
  commits = 0;

  private snapshot: ConfigSnapshot;

  private constructor(
    readonly dir: string,
    readonly path: string,
    snapshot: ConfigSnapshot,
  ) {
    this.snapshot = snapshot;
    this.runtimeUserSet = new Set(Object.keys(snapshot.config.access.users));
    const now = Date.now();
    this.runtimeState = {
      started_at_ms: now - 5000,
      ready_at_ms: now - 4000,
      status: 'ready',
      current_stage: 'ready',
      progress_pct: 100,
      components: [
        { id: 'config', title: 'Load config', status: 'ready', started_at_epoch_ms: now - 5000, finished_at_epoch_ms: now - 4900, attempts: 1, details: undefined },
        { id: 'workers', title: 'Start workers', status: 'ready', started_at_epoch_ms: now - 4900, finished_at_epoch_ms: now - 4000, attempts: 1, details: '2 workers' },
      ],
      admission_open: true,
      workers_configured: 2,
      workers_ready: 2,
      worker_restarts_total: 0,
      total_upstreams: 1,
      healthy_upstreams: 1,
      config_reload_count: 0,
      last_config_reload_epoch_secs: undefined,
    };
    this.counterState = {
      generated_at_ms: now,
      core: {
        connections_total: 10,
        connections_bad_total: 2,
        handshake_timeouts_total: 1,
        accept_permit_timeout_total: 0,
        connections_bad_by_class: { bad_secret: 2 },
        handshake_failures_by_class: { expected_64_got_0_unexpected_eof: 1 },
        handshake_failures_by_stage: { direct_mtproto: 1 },
      },
      upstream: { connect_attempt_total: 8, connect_success_total: 8 },
      middle_proxy: { reconnect_attempt_total: 6, reconnect_success_total: 5, keepalive_sent_total: 40 },
      pool: { writer_removed_total: 1 },
      me: { me_fallback_direct_total: 7, me_proxy_req_total: 120 },
      desync: {},
      current_connections: 3,
      current_connections_me: 0,
      current_connections_direct: 3,
      octets_from_clients: 1000,
      octets_to_clients: 5000,
      accepts_by_worker: [5, 5],
    };
  }

  static async create(text: string = BASE_CONFIG): Promise<FakeControlPlane> {
    const dir = await mkdtemp(join(tmpdir(), 'mtedge-api-'));
    const path = join(dir, 'config.toml');
    await writeFile(path, text);
    return new FakeControlPlane(dir, path, parseConfigText(text, path));
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  readDisk(): Promise<string> {
    return readFile(this.path, 'utf8');
  }

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  /** Replace the applied snapshot directly (hot-reload of API settings in tests). */
  async setConfigText(text: string): Promise<void> {
    await writeFile(this.path, text);
    this.apply(parseConfigText(text, this.path));
  }

  async commitConfigText(newText: string, expectedRevision: string): Promise<ReloadOutcome> {
    const next = parseConfigText(newText, this.path);
    const fsOps: AtomicFsOps = this.failRename
      ? { ...nodeOps, rename: () => Promise.reject(Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' })) }
      : nodeOps;
    await writeFileAtomic(this.path, newText, { expectedRevision, fsOps });
    this.commits++;
    return this.apply(next);
  }

  async reloadFromDisk(): Promise<ReloadOutcome> {
    const text = await readFile(this.path, 'utf8');
    return this.apply(parseConfigText(text, this.path));
  }

  private apply(next: ConfigSnapshot): ReloadOutcome {
    const prev = this.snapshot;
    const keys = new Set([...Object.keys(prev.raw), ...Object.keys(next.raw)]);
    const changed = [...keys].filter((k) => JSON.stringify(prev.raw[k]) !== JSON.stringify(next.raw[k])).sort();
    this.snapshot = next;
    this.runtimeUserSet = new Set(Object.keys(next.config.access.users));
    this.runtimeState = {
      ...this.runtimeState,
      config_reload_count: this.runtimeState.config_reload_count + 1,
      last_config_reload_epoch_secs: Math.floor(Date.now() / 1000),
    };
    return { snapshot: next, changed, deferred_process_fields: [] };
  }

  counters(): CountersSnapshot {
    return this.counterState;
  }

  userRuntime(username: string): UserRuntimeSnapshot {
    return this.userStats.get(username) ?? ZERO_USER;
  }

  runtimeUsers(): ReadonlySet<string> {
    return this.runtimeUserSet;
  }

  resetUserQuota(username: string): Promise<{ readonly last_reset_epoch_secs: number }> {
    this.quotaResets.push(username);
    return Promise.resolve({ last_reset_epoch_secs: Math.floor(Date.now() / 1000) });
  }

  disconnectUser(username: string): void {
    this.disconnected.push(username);
  }

  runtime(): RuntimeState {
    return this.runtimeState;
  }

  meStatus(): Promise<MeStatusSnapshot | undefined> {
    const g = this.snapshot.config.general;
    if (!g.use_middle_proxy || this.meState === undefined) return Promise.resolve(undefined);
    // The supervisor reads me2dc_fallback from the applied config; so does the fake.
    return Promise.resolve({ ...this.meState, fallback_enabled: g.me2dc_fallback });
  }

  natStun(): NatStunView | undefined {
    return this.snapshot.config.general.use_middle_proxy ? this.natStunState : undefined;
  }

  events(limit: number): EventsView {
    return { capacity: this.eventsCapacity, dropped_total: this.eventsDropped, events: this.eventLog.slice(-limit) };
  }

  recordEvent(eventType: string, context: string): void {
    this.eventLog.push({ seq: this.eventLog.length + 1, ts_epoch_secs: Math.floor(Date.now() / 1000), event_type: eventType, context });
  }

  linkPort(): number {
    const c = this.current().config;
    return c.general.links.public_port ?? c.server.port;
  }

  linkHosts(): readonly string[] {
    return this.hosts;
  }
}
