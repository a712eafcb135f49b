/**
 * me_runtime (/v1/stats/minimal/all) and the hardswap view of /v1/runtime/me_pool_state over a
 * fake ME status: configured knobs, a pending swap with its age, warm writers kept out of the
 * active counts. Every response is validated against its schema by assertSuccess.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_CONFIG, sampleMeStatus } from '../test-support/fake-control-plane.js';
import { assertSuccess, startHarness, type Harness } from '../test-support/harness.js';

const CONFIG = BASE_CONFIG.replace(
  'use_middle_proxy = false',
  'use_middle_proxy = true\nme_pool_drain_ttl_secs = 30\nme_adaptive_floor_cpu_cores_override = 3\nme_writer_pick_mode = "sorted_rr"',
).replace('whitelist = []\n', 'whitelist = []\nruntime_edge_enabled = true\n');

describe('me_runtime and the hardswap state', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(CONFIG);
  });
  after(() => h.close());

  it('me_runtime carries generations, knobs as configured, counts and quarantine', async () => {
    const d = assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData');
    const rt = (d['data'] as Record<string, Record<string, unknown>>)['me_runtime']!;
    assert.equal(rt['active_generation'], 1);
    assert.equal(rt['pending_hardswap_generation'], 0);
    assert.equal(rt['pending_hardswap_age_secs'], undefined);
    assert.equal(rt['floor_mode'], 'static');
    assert.equal(rt['me_pool_drain_ttl_secs'], 30);
    assert.equal(rt['me_pool_force_close_secs'], 30);
    assert.equal(rt['adaptive_floor_cpu_cores_override'], 3);
    assert.equal(rt['adaptive_floor_cpu_cores_effective'], 3);
    assert.equal(rt['adaptive_floor_global_cap_raw'], 3 * 48);
    assert.equal(rt['adaptive_floor_idle_secs'], 90, "telemt's default when unset");
    assert.equal(rt['me_writer_pick_mode'], 'sorted_rr');
    assert.equal(rt['adaptive_floor_active_writers_current'], 3);
    assert.equal(rt['adaptive_floor_warm_writers_current'], 2);
    assert.equal(rt['adaptive_floor_target_writers_total'], 6);
    assert.deepEqual(rt['quarantined_endpoints'], [{ endpoint: '192.0.2.191:8888', remaining_ms: 800 }]);
    assert.equal(rt['quarantined_endpoints_total'], 1);
  });

  it('a pending swap: numbers, age, and warm writers not counted as alive', async () => {
    const m = sampleMeStatus();
    const next = 'cd'.repeat(32);
    const warmWriter = { ...m.writers[0]!, writer_id: 9, generation: next, warm: true };
    h.cp.meState = {
      ...m,
      writers: [...m.writers, warmWriter],
      generations: { ...m.generations, hardswap_enabled: true, warm: 2, pending: 2, pending_since_ms: m.generated_at_ms - 65_000, seq_of: { ...m.generations.seq_of, [next]: 2 } },
    };
    try {
      const p = assertSuccess(await h.req('/v1/runtime/me_pool_state'), 'RuntimeMePoolStateData');
      const pd = p['data'] as Record<string, Record<string, unknown>>;
      assert.deepEqual(pd['generations'], { active_generation: 1, warm_generation: 2, pending_hardswap_generation: 2, draining_generations: [], pending_hardswap_age_secs: 65 });
      assert.deepEqual(pd['hardswap'], { enabled: true, pending: true });
      assert.equal(pd['writers']!['alive_non_draining'], 3, 'the warm writer takes no clients yet');
      const w = assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
      const row = (w['writers'] as Record<string, unknown>[]).find((r) => r['writer_id'] === 9)!;
      assert.equal(row['state'], 'warm');
      assert.equal(row['generation'], 2);
      assert.equal(row['matches_active_generation'], false);
      const rt = (assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData')['data'] as Record<string, Record<string, unknown>>)['me_runtime']!;
      assert.equal(rt['pending_hardswap_age_secs'], 65);
      assert.equal(rt['warm_generation'], 2);
    } finally {
      h.cp.meState = sampleMeStatus();
    }
  });
});
