/** /v1/health and /v1/health/ready. */
import type { Handler } from './context.js';

export const health: Handler = ({ cp }) => ({
  data: { status: 'ok', read_only: cp.current().config.server.api.read_only },
});

/** 503 when not ready, but still an ok:true envelope (API-CLIENT-FACTS "Envelope and status"). */
export const healthReady: Handler = ({ cp }) => {
  const rt = cp.runtime();
  const ready = rt.admission_open && rt.healthy_upstreams > 0;
  const data: Record<string, unknown> = {
    ready,
    status: ready ? 'ready' : 'not_ready',
    admission_open: rt.admission_open,
    healthy_upstreams: rt.healthy_upstreams,
    total_upstreams: rt.total_upstreams,
  };
  if (!ready) data['reason'] = rt.admission_open ? 'no_healthy_upstreams' : 'admission_closed';
  return { status: ready ? 200 : 503, data };
};
