// What the browser app and the Next.js app's routes and page do (each row copies this
// file beside its sources): track `n` events worth 2 and one invalid one, flush, and
// report the outcome for the runner's checkOutcome(), as the Node apps (node/) do.
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
