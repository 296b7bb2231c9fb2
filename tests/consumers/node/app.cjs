// A Node app as CommonJS: `require` the package, track, shut down. Its config (JSON) is
// the first argument; it prints what shutdown() reported.
const { Edgemeter, EdgemeterError } = require('@edgemeter/sdk');

async function main() {
  const { baseUrl, apiKey, customerId, eventName, n } = JSON.parse(process.argv[2]);
  const errors = [];
  const meter = new Edgemeter({ apiKey, baseUrl, onError: (e) => errors.push(e.code) });
  for (let i = 0; i < n; i++) meter.track({ customerId, eventName, value: 2, properties: { i } });
  let refused = null;
  try {
    meter.track({ customerId, eventName, value: -1 });
  } catch (e) {
    refused = e instanceof EdgemeterError ? e.code : String(e);
  }
  const r = await meter.shutdown({ timeoutMs: 60_000 });
  console.log(JSON.stringify({ accepted: r.accepted, failed: r.failed.length, rejected: r.rejected.length, refused, errors }));
}

main();
