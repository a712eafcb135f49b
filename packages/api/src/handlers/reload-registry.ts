/** Reload operations, newest 32 retained (telemt-API.md `GET /v1/system/reload/{id}`). */
export type ReloadMode = 'instant' | 'drain';
export type FailurePolicy = 'keep_new' | 'rollback';
export type ReloadState = 'accepted' | 'preparing' | 'activating' | 'draining' | 'succeeded' | 'rolled_back' | 'failed';

export interface ReloadRecord {
  reload_id: number;
  target_generation: number;
  config_revision: string;
  state: ReloadState;
  mode: ReloadMode;
  failure_policy: FailurePolicy;
  timeout_secs?: number;
  started_at_epoch_secs: number;
  finished_at_epoch_secs?: number;
  error?: string;
  warnings?: string[];
  deferred_process_fields?: string[];
}

export const RELOAD_RETAIN = 32;

export class ReloadRegistry {
  private nextId = 1;
  /** Generation 1 is the one the process started with. */
  private generation = 1;
  private readonly records: ReloadRecord[] = [];

  begin(o: { revision: string; mode: ReloadMode; failurePolicy: FailurePolicy; timeoutSecs: number | undefined }): ReloadRecord {
    const rec: ReloadRecord = {
      reload_id: this.nextId++,
      target_generation: this.generation + 1,
      config_revision: o.revision,
      state: 'accepted',
      mode: o.mode,
      failure_policy: o.failurePolicy,
      started_at_epoch_secs: Math.floor(Date.now() / 1000),
    };
    if (o.timeoutSecs !== undefined) rec.timeout_secs = o.timeoutSecs;
    this.records.push(rec);
    if (this.records.length > RELOAD_RETAIN) this.records.shift();
    return rec;
  }

  succeed(rec: ReloadRecord, revision: string, deferred: readonly string[]): void {
    rec.state = 'succeeded';
    rec.config_revision = revision;
    rec.finished_at_epoch_secs = Math.floor(Date.now() / 1000);
    if (deferred.length > 0) rec.deferred_process_fields = [...deferred];
    this.generation = rec.target_generation;
  }

  fail(rec: ReloadRecord, error: string): void {
    rec.state = 'failed';
    rec.error = error;
    rec.finished_at_epoch_secs = Math.floor(Date.now() / 1000);
  }

  get(id: number): ReloadRecord | undefined {
    return this.records.find((r) => r.reload_id === id);
  }

  inProgress(): boolean {
    return this.records.some((r) => r.finished_at_epoch_secs === undefined);
  }
}

/** ReloadAccepted view of a record. */
export function acceptedView(rec: ReloadRecord): Record<string, unknown> {
  const v: Record<string, unknown> = {
    reload_id: rec.reload_id,
    target_generation: rec.target_generation,
    config_revision: rec.config_revision,
    state: rec.state,
    mode: rec.mode,
    failure_policy: rec.failure_policy,
  };
  if (rec.timeout_secs !== undefined) v['timeout_secs'] = rec.timeout_secs;
  return v;
}
