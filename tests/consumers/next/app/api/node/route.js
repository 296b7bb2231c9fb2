// A route handler on the nodejs runtime: the query names the customer, event and count;
// the key and the API's address come from the server's environment.
import { trackAll } from '../../../track.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request) {
  const q = new URL(request.url).searchParams;
  const c = { baseUrl: process.env.EDGEMETER_URL, apiKey: process.env.EDGEMETER_KEY, customerId: q.get('customer'), eventName: q.get('event'), n: Number(q.get('n')) };
  return Response.json(await trackAll(c));
}
