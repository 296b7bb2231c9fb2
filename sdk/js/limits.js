// Enforcement (API.md, "Limits, entitlements and reservations"): a customer's limits,
// its entitlements (may it use more right now?) and reservations (hold a quantity, do the
// work, commit what it really used), as resources of the API client (api.js builds them
// with `createLimits(kit)`). Types: api.d.ts.
//
// Keys: limits need a secret key; entitlements and reservations may also be used with an
// ingest key or the customer's own token (a browser showing a user its quota).
//
// Retries: a reservation is created under one `Idempotency-Key` header, and carries an
// `idempotencyKey` in its body (the key of the usage event its commit records): the
// caller's, else the header's, else a random UUID, so a retried create is answered with
// the first hold instead of holding twice. A commit is idempotent by nature (a repeated
// commit answers the first result), and so is a release.

import { decimalInput } from './decimal.js';
import { EdgemeterError } from './errors.js';

/** `kit`: what api.js shares with its resource modules (see credits.js). */
export function createLimits({ call, id, all, listQuery, randomUuid }) {
  const base = (customerId) => `/v1/customers/${id(customerId, 'customerId')}`;

  const limits = {
    put: async (customerId, metricCode, input) =>
      call('PUT', `${base(customerId)}/limits/${id(metricCode, 'metricCode')}`, {
        body: { ...input, max: decimalInput(input?.max, 'max') },
      }),
    list: async (customerId, params) => call('GET', `${base(customerId)}/limits`, { query: listQuery(params) }),
    // Idempotent by nature: a retry whose first attempt removed the limit gets 404
    // `unknown_limit`, which is then the wanted outcome.
    delete: async (customerId, metricCode) => {
      await call('DELETE', `${base(customerId)}/limits/${id(metricCode, 'metricCode')}`, {
        recover: async (e) => (e.code === 'unknown_limit' ? null : undefined),
      });
    },
  };

  const entitlements = {
    // One metric's entitlement, or `{ period, data }` for every metric with a limit.
    get: async (customerId, metricCode) =>
      metricCode === undefined
        ? call('GET', `${base(customerId)}/entitlements`)
        : call('GET', `${base(customerId)}/entitlements/${id(metricCode, 'metricCode')}`),
  };

  const path = (customerId, reservationId, op) =>
    `${base(customerId)}/reservations/${id(reservationId, 'reservationId')}/${op}`;

  const reservations = {
    create: async (customerId, input, opts) => {
      const key = input?.idempotencyKey ?? opts?.idempotencyKey ?? randomUuid();
      const body = { ...input, quantity: decimalInput(input?.quantity, 'quantity'), idempotencyKey: key };
      return call('POST', `${base(customerId)}/reservations`, { body, opts: { ...opts, idempotencyKey: opts?.idempotencyKey ?? key } });
    },
    commit: async (customerId, reservationId, input, opts) => {
      const body = input === undefined ? undefined : { ...input, value: decimalInput(input?.value, 'value') };
      return committed(await call('POST', path(customerId, reservationId, 'commit'), { body, opts }));
    },
    // Idempotent by nature: releasing what holds nothing any more (released or expired)
    // answers the reservation as it is; a committed one is `reservation_committed`.
    release: async (customerId, reservationId, opts) =>
      call('POST', path(customerId, reservationId, 'release'), { body: undefined, opts }),
    get: async (customerId, reservationId) =>
      call('GET', `${base(customerId)}/reservations/${id(reservationId, 'reservationId')}`),
    // Newest first; `status: 'held'` for the open ones.
    list: async (customerId, params = {}) => {
      const { status, ...rest } = params ?? {};
      return call('GET', `${base(customerId)}/reservations`, { query: { ...listQuery(rest), status } });
    },
    listAll: (customerId, params) => all((p) => reservations.list(customerId, p), params),

    /**
     * Holds `input.quantity`, runs `work(reservation)`, and commits what it returns: a
     * quantity (number or decimal string), an object `{ value?, timestamp?, properties? }`,
     * or nothing (the quantity held). Resolves to the commit's answer. If the hold is
     * refused (`limit_exceeded`), `work` is not run. If `work` throws, or the commit
     * fails, the hold is released and the error rethrown (a release that fails too is
     * left to the hold's expiry, and the first error is the one thrown).
     */
    withReservation: async (customerId, input, work, opts) => {
      if (typeof work !== 'function') {
        throw new EdgemeterError('invalid_request', '`work` must be a function', { field: 'work' });
      }
      const reservation = await reservations.create(customerId, input, opts);
      try {
        const reported = await work(reservation);
        return await reservations.commit(customerId, reservation.id, commitInput(reported));
      } catch (e) {
        await reservations.release(customerId, reservation.id).catch(() => undefined);
        throw e;
      }
    },
  };

  return { limits, entitlements, reservations };
}

/** What a `withReservation` callback returned, as a commit's body. */
function commitInput(reported) {
  if (reported === undefined || reported === null) return undefined;
  if (typeof reported === 'number' || typeof reported === 'string') return { value: reported };
  if (typeof reported === 'object' && !Array.isArray(reported)) return reported;
  throw new EdgemeterError(
    'invalid_request',
    'a withReservation callback returns a quantity, { value, timestamp, properties } or nothing',
    { field: 'value' },
  );
}

/**
 * A commit's answer in the SDK's names. api.js keeps any `event` as the wire sent it (a
 * rejected event's is shown as it was sent); the event a commit recorded is the API's
 * own object, so its keys are camelCased like the rest.
 */
function committed(answer) {
  const event = answer?.event;
  if (event === null || typeof event !== 'object') return answer;
  const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  return { ...answer, event: Object.fromEntries(Object.entries(event).map(([k, v]) => [camel(k), v])) };
}
