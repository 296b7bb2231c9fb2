// What every route and the page of the Next.js app do: track `n` events (and one
// invalid one), flush, and report the outcome, as the other rows' apps do.
import { Edgemeter, EdgemeterError } from '@edgemeter/sdk';

export async function trackAll({ baseUrl, apiKey, customerId, eventName, n }) {
  const errors = [];
  const meter = new Edgemeter({ apiKey, baseUrl, onError: (e) => errors.push(e.code) });
  for (let i = 0; i < n; i++) meter.track({ customerId, eventName, value: 2, properties: { i } });
  let refused = null;
  try {
    meter.track({ customerId, eventName, value: -1 });
  } catch (e) {
    refused = e instanceof EdgemeterError ? e.code : String(e);
  }
  const r = await meter.flush({ timeoutMs: 60_000 });
  return { accepted: r.accepted, failed: r.failed.length, rejected: r.rejected.length, refused, errors };
}
