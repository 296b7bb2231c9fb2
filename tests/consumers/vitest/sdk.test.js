// Vitest with its jsdom environment (a Vite app's usual test setup), no polyfill: the
// package loads, refuses an invalid event with the server's code, and delivers every
// event it tracked. Config (JSON) in config.json beside this file.

import { expect, test } from 'vitest';
import { Edgemeter } from '@edgemeter/sdk';
import c from './config.json';

test('tracks and delivers under jsdom', async () => {
  expect(typeof document).toBe('object');
  const m = new Edgemeter({ apiKey: c.apiKey, baseUrl: c.baseUrl });
  for (let i = 0; i < c.n; i++) m.track({ customerId: c.customerId, eventName: c.eventName, value: 2 });
  expect(() => m.track({ customerId: c.customerId, eventName: c.eventName, value: 'lots' })).toThrow(
    expect.objectContaining({ code: 'invalid_value', field: 'value' }),
  );
  const r = await m.shutdown();
  expect([r.accepted, r.rejected.length, r.failed.length]).toEqual([c.n, 0, 0]);
});
