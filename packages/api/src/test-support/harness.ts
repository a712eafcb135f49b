/** Starts a real API server over a FakeControlPlane for a test, and tears both down. */
import assert from 'node:assert/strict';
import { startApiServer, type ApiServerHandle } from '../server.js';
import { validateResponse, type ResponseSchemaName } from '../schemas/index.js';
import { BASE_CONFIG, FakeControlPlane } from './fake-control-plane.js';
import { call, type TestRequest, type TestResponse } from './http.js';

export interface Harness {
  readonly cp: FakeControlPlane;
  readonly server: ApiServerHandle;
  req(r: TestRequest | string): Promise<TestResponse>;
  close(): Promise<void>;
}

/** BASE_CONFIG with the `whitelist = []` line of [server.api] replaced by `apiLines`. */
export function configWithApi(apiLines: string, base: string = BASE_CONFIG): string {
  return base.replace('whitelist = []\n', `${apiLines}\n`);
}

export async function startHarness(text: string = BASE_CONFIG, host = '127.0.0.1'): Promise<Harness> {
  const cp = await FakeControlPlane.create(text);
  const server = await startApiServer({ controlPlane: cp, host, port: 0 });
  return {
    cp,
    server,
    req: (r) => call(server.port, typeof r === 'string' ? { path: r } : r),
    close: async () => {
      server.close();
      await cp.dispose();
    },
  };
}

/** Asserts a success envelope whose `data` matches the named response schema. */
export function assertSuccess(res: TestResponse, schema: ResponseSchemaName, status = 200): Record<string, unknown> {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json['ok'], true, res.text);
  assert.match(String(res.json['revision']), /^[0-9a-f]{64}$/);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const v = validateResponse(schema, res.json['data']);
  assert.ok(v.ok, `${schema}: ${v.ok ? '' : v.message}\n${res.text}`);
  return res.json['data'] as Record<string, unknown>;
}

/** Asserts an error envelope with the given status and code. */
export function assertError(res: TestResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json['ok'], false, res.text);
  const err = res.json['error'] as Record<string, unknown> | undefined;
  assert.equal(err?.['code'], code, res.text);
  assert.equal(typeof err?.['message'], 'string');
  assert.equal(typeof res.json['request_id'], 'number');
  assert.equal(res.json['revision'], undefined);
}
