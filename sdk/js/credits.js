// Money held for a customer (API.md, "Credits and the live balance", "Alerts"): credit
// grants, the live balance and alerts, as resources of the API client (api.js builds
// them with `createCredits(kit)` and assigns them onto an `Edgemeter`). Types: api.d.ts.
//
// Amounts and thresholds are decimal strings in the customer's currency, as the server
// sends them; a JS number is refused as an amount rather than sent, since a binary float
// is not money (`0.1 + 0.2`); a threshold may be a number (a usage alert's is a
// quantity), sent as its decimal text. Which keys may call what: the balance may be read with an ingest
// key or the customer's own token; grants and alerts need a secret key.

import { decimalInput, moneyInput } from './decimal.js';

/**
 * `kit`: what api.js shares with its resource modules: `call(method, path, init)`,
 * `id(value, name)` (a checked, encoded path segment), `all(list, params)` (every page),
 * `listQuery(params)`.
 */
export function createCredits({ call, id, all, listQuery }) {
  const base = (customerId) => `/v1/customers/${id(customerId, 'customerId')}`;

  const creditGrants = {
    create: async (customerId, input, opts) => {
      const body = { ...input, amount: moneyInput(input?.amount, 'amount') };
      return call('POST', `${base(customerId)}/credit_grants`, { body, opts });
    },
    list: async (customerId, params) => call('GET', `${base(customerId)}/credit_grants`, { query: listQuery(params) }),
    listAll: (customerId, params) => all((p) => creditGrants.list(customerId, p), params),
    get: async (customerId, grantId) => call('GET', `${base(customerId)}/credit_grants/${id(grantId, 'grantId')}`),
    // Voiding twice is 409 `grant_voided`; a retry whose first attempt voided the grant finds it voided.
    void: async (customerId, grantId, opts) =>
      call('POST', `${base(customerId)}/credit_grants/${id(grantId, 'grantId')}/void`, {
        body: undefined,
        opts,
        recover: async (e) => {
          if (e.code !== 'grant_voided') return undefined;
          const grant = await creditGrants.get(customerId, grantId);
          return grant.status === 'voided' ? grant : undefined;
        },
      }),
  };

  const balance = {
    get: async (customerId) => call('GET', `${base(customerId)}/balance`),
  };

  const alerts = {
    create: async (customerId, input, opts) => {
      const body = { ...input, threshold: decimalInput(input?.threshold, 'threshold') };
      return call('POST', `${base(customerId)}/alerts`, { body, opts });
    },
    list: async (customerId, params) => call('GET', `${base(customerId)}/alerts`, { query: listQuery(params) }),
    listAll: (customerId, params) => all((p) => alerts.list(customerId, p), params),
    // Deleting is idempotent by nature: a retry whose first attempt deleted the alert gets
    // 404, which is then the wanted outcome.
    delete: async (customerId, alertId) => {
      await call('DELETE', `${base(customerId)}/alerts/${id(alertId, 'alertId')}`, {
        recover: async (e) => (e.status === 404 ? null : undefined),
      });
    },
  };

  return { creditGrants, balance, alerts };
}
