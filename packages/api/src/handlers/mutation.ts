/** The shared write path of every mutation: If-Match, splice, commit, error mapping. */
import { ConfigError, RevisionConflictError, spliceConfig, type ConfigEdit } from '@mtedge/config';
import type { ControlPlane, ReloadOutcome } from '../control-plane.js';
import { ApiError } from '../http/errors.js';

/** Quoted or bare, surrounding whitespace trimmed (telemt-API.md "Body and JSON Semantics"). */
export function normalizeIfMatch(header: string): string {
  let v = header.trim();
  if (v.startsWith('W/')) v = v.slice(2).trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).trim();
  return v;
}

export function checkIfMatch(header: string | undefined, currentRevision: string): void {
  if (header === undefined) return;
  const want = normalizeIfMatch(header);
  if (want === '*' || want === currentRevision) return;
  throw new ApiError('revision_conflict', 'Config revision does not match If-Match');
}

export function mapConfigError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ConfigError) return new ApiError('bad_request', err.message, { cause: err });
  if (err instanceof RevisionConflictError) return new ApiError('revision_conflict', 'Config changed on disk; retry with the new revision', { cause: err });
  return new ApiError('internal_error', 'Failed to write config', { cause: err });
}

/** Splice edits into the text; ConfigError (a key that cannot be edited in place) becomes 400. */
export function splice(text: string, edits: readonly ConfigEdit[]): string {
  if (edits.length === 0) return text;
  try {
    return spliceConfig(text, edits);
  } catch (err) {
    throw mapConfigError(err);
  }
}

export async function commit(cp: ControlPlane, newText: string, expectedRevision: string): Promise<ReloadOutcome> {
  try {
    return await cp.commitConfigText(newText, expectedRevision);
  } catch (err) {
    throw mapConfigError(err);
  }
}
