/** network_path of /v1/stats/minimal/all over merged IPv4 + IPv6 ME tables. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MeStatusSnapshot } from '../control-plane.js';
import { sampleMeStatus } from '../test-support/fake-control-plane.js';
import { networkPath } from './me-view.js';

function withTable(endpoints: Record<string, string[]>, writers: { dc: number; endpoint: string; state: 'ready' | 'connecting' }[]): MeStatusSnapshot {
  const m = sampleMeStatus();
  const base = m.writers[0]!;
  return {
    ...m,
    inputs: { ...m.inputs!, endpoints },
    writers: writers.map((w, i) => ({ ...base, writer_id: i + 1, dc: w.dc, endpoint: w.endpoint, state: w.state })),
    dcs: [],
  };
}

describe('network_path', () => {
  it('reports the family of the first endpoint and the selected address of each family', () => {
    const m = withTable(
      {
        '1': ['192.0.2.50:8888'],
        '2': ['[2001:67c:4e8:f002::d]:80', '[2001:67c:4e8:f002::e]:80'],
        '3': ['192.0.2.100:8888', '[2001:db8:f003::d]:8888'],
      },
      // Writer views bracket IPv6 endpoints as the tables do; the up writer is the selected one.
      [{ dc: 2, endpoint: '[2001:67c:4e8:f002::e]:80', state: 'ready' }, { dc: 2, endpoint: '[2001:67c:4e8:f002::d]:80', state: 'connecting' }],
    );
    assert.deepEqual(networkPath(m), [
      { dc: 1, ip_preference: 'prefer_v4', selected_addr_v4: '192.0.2.50:8888' },
      { dc: 2, ip_preference: 'prefer_v6', selected_addr_v6: '[2001:67c:4e8:f002::e]:80' },
      { dc: 3, ip_preference: 'prefer_v4', selected_addr_v4: '192.0.2.100:8888', selected_addr_v6: '[2001:db8:f003::d]:8888' },
    ]);
  });

  it('says both_work while up writers of both families serve a DC, and ignores writers off the table', () => {
    const m = withTable({ '2': ['[2001:db8::1]:80', '192.0.2.1:80'] }, [
      { dc: 2, endpoint: '192.0.2.9:80', state: 'ready' },
      { dc: 2, endpoint: '192.0.2.1:80', state: 'ready' },
      { dc: 2, endpoint: '[2001:db8::1]:80', state: 'ready' },
    ]);
    assert.deepEqual(networkPath(m), [{ dc: 2, ip_preference: 'both_work', selected_addr_v4: '192.0.2.1:80', selected_addr_v6: '[2001:db8::1]:80' }]);
  });
});
