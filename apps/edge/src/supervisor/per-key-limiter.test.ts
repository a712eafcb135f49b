import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerKeyLimiter } from './per-key-limiter.js';

test('one line per key per window, then the count of the held-back ones', () => {
  const l = new PerKeyLimiter(10_000);
  assert.equal(l.take('dc=2', 0), 0);
  assert.equal(l.take('dc=2', 1000), undefined);
  assert.equal(l.take('dc=2', 9999), undefined);
  assert.equal(l.take('dc=4', 5000), 0, 'keys are independent');
  assert.equal(l.take('dc=2', 10_000), 2);
  assert.equal(l.take('dc=2', 10_001), undefined);
});

test('the key table is bounded', () => {
  const l = new PerKeyLimiter(10_000, 4);
  for (let i = 0; i < 100; i++) assert.equal(l.take(`k${i}`, 0), 0);
});
