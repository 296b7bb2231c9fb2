// Compiled where a global `fetch` is declared (the DOM lib, or Node's types): it can be
// passed as the `fetch` option as it is, and wrapped.
import { Edgemeter } from '@edgemeter/sdk';

export const direct = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://billing.example.com', fetch });
export const wrapped = new Edgemeter({
  apiKey: 'pk_x',
  baseUrl: 'https://billing.example.com',
  fetch: (url, init) => fetch(url, init),
});
