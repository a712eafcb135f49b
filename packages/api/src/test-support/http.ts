/** A small HTTP client for tests over loopback (node:http, so any method and raw bodies work). */
import { request } from 'node:http';

export interface TestResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** Parsed JSON body (every API response is JSON). */
  readonly json: Record<string, unknown>;
}

export interface TestRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Object -> JSON; string/Buffer sent raw. */
  readonly body?: unknown;
  readonly host?: string;
}

export function call(port: number, r: TestRequest): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | undefined;
    if (typeof r.body === 'string') payload = Buffer.from(r.body);
    else if (Buffer.isBuffer(r.body)) payload = r.body;
    else if (r.body !== undefined) payload = Buffer.from(JSON.stringify(r.body));
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (payload !== undefined) headers['content-length'] = String(payload.length);
    const req = request(
      { host: r.host ?? '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* left empty: the test asserts on it */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
