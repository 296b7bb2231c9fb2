// A browser app, bundled by each bundler of the matrix as it comes (default settings):
// tracks the events its page's URL asks for (JSON in the fragment) with a customer token,
// flushes, and leaves the outcome in window.EDGEMETER_RESULT for the runner.
import { Edgemeter, EdgemeterError } from '@edgemeter/sdk';

async function main() {
  const { baseUrl, apiKey, customerId, eventName, n } = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const errors = [];
  const meter = new Edgemeter({ apiKey, baseUrl, onError: (e) => errors.push(e.code) });
  for (let i = 0; i < n; i++) meter.track({ customerId, eventName, value: 2, properties: { i } });
  let refused = null;
  try {
    meter.track({ customerId, eventName, value: -1 });
  } catch (e) {
    refused = e instanceof EdgemeterError ? e.code : String(e);
  }
  const r = await meter.flush({ timeoutMs: 60000 });
  return { accepted: r.accepted, failed: r.failed.length, rejected: r.rejected.length, refused, errors };
}

window.EDGEMETER_RESULT = main().catch((e) => ({ error: String((e && e.stack) || e) }));
