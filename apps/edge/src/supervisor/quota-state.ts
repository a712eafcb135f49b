/**
 * Quota use survives restarts: per-user used bytes and last reset time, written atomically to
 * general.quota_state_path (JSON) on reset, periodically and at shutdown.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@mtedge/config';

export interface QuotaRecord {
  readonly used_bytes: number;
  readonly last_reset_epoch_secs: number;
}

export type QuotaState = Record<string, QuotaRecord>;

export async function readQuotaState(path: string): Promise<QuotaState> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (!parsed || typeof parsed !== 'object') return {};
    const out: QuotaState = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const r = v as Partial<QuotaRecord> | null;
      if (r && typeof r.used_bytes === 'number' && typeof r.last_reset_epoch_secs === 'number') out[k] = { used_bytes: r.used_bytes, last_reset_epoch_secs: r.last_reset_epoch_secs };
    }
    return out;
  } catch {
    return {};
  }
}

export async function writeQuotaState(path: string, state: QuotaState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(state, null, 1) + '\n');
}
