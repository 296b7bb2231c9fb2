// A customer's Worker: each request does some work and reports its usage, and the
// events are delivered after the response, within ctx.waitUntil. The client is made per
// request: a Worker should not await, in one request, I/O that another request began.
import { Edgemeter } from '@edgemeter/sdk';

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const customerId = url.searchParams.get('customer');
    if (customerId === null) return new Response('ok');
    const eventName = url.searchParams.get('event');
    const n = Number(url.searchParams.get('n') ?? '1');
    const meter = new Edgemeter({
      apiKey: env.EDGEMETER_KEY,
      baseUrl: env.EDGEMETER_URL,
      onError: (e) => console.error(`edgemeter: ${e.code}: ${e.message}`),
    });
    for (let i = 0; i < n; i++) meter.track({ customerId, eventName, value: 2, properties: { i } });
    ctx.waitUntil(meter.flush({ timeoutMs: 20_000 }));
    return Response.json({ tracked: n });
  },
};
