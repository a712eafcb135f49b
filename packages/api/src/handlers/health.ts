/** /v1/health and /v1/health/ready. */
import type { Handler } from './context.js';
import { meReady } from './me-view.js';

export const health: Handler = ({ cp }) => ({
  data: { status: 'ok', read_only: cp.current().config.server.api.read_only },
});

/**
 * 503 when not ready, but still an ok:true envelope (API-CLIENT-FACTS "Envelope and status").
 * With ME on and me2dc_fallback off the ME is the only upstream: no ready writer = not ready.
 */
export const healthReady: Handler = async ({ cp }) => {
  const rt = cp.runtime();
  const g = cp.current().config.general;
  let healthy = rt.healthy_upstreams;
  if (g.use_middle_proxy && !g.me2dc_fallback) {
    const m = await cp.meStatus();
    if (m === undefined || !meReady(m)) healthy = 0;
  }
  const ready = rt.admission_open && healthy > 0;
  const data: Record<string, unknown> = {
    ready,
    status: ready ? 'ready' : 'not_ready',
    admission_open: rt.admission_open,
    healthy_upstreams: healthy,
    total_upstreams: rt.total_upstreams,
  };
  if (!ready) data['reason'] = rt.admission_open ? 'no_healthy_upstreams' : 'admission_closed';
  return { status: ready ? 200 : 503, data };
};
