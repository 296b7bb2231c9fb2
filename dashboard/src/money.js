// Exact decimal arithmetic for prices, as the server does it (core/src/pricing.rs): a
// decimal is a BigInt of units of 10^-scale, so no binary float ever touches money. Used
// by the contract form to show what each tier costs for an example quantity.

/** A decimal: `n` × 10^-`s`. */
const dec = (n, s) => ({ n, s });

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Parses a non-negative decimal string (`"0.05"`, `"1000"`); `null` if it is not one. */
export function parse(text) {
  const m = DECIMAL.exec(String(text ?? '').trim());
  if (!m) return null;
  const frac = m[2] ?? '';
  return dec(BigInt(m[1] + frac), frac.length);
}

const pow10 = (k) => 10n ** BigInt(k);
const rescale = (a, s) => dec(a.n * pow10(s - a.s), s);
const align = (a, b) => {
  const s = Math.max(a.s, b.s);
  return [rescale(a, s), rescale(b, s)];
};

export const ZERO = dec(0n, 0);
export const add = (a, b) => { const [x, y] = align(a, b); return dec(x.n + y.n, x.s); };
export const sub = (a, b) => { const [x, y] = align(a, b); return dec(x.n - y.n, x.s); };
export const mul = (a, b) => dec(a.n * b.n, a.s + b.s);
export const cmp = (a, b) => { const [x, y] = align(a, b); return x.n < y.n ? -1 : x.n > y.n ? 1 : 0; };
export const min = (a, b) => (cmp(a, b) <= 0 ? a : b);
export const max = (a, b) => (cmp(a, b) >= 0 ? a : b);
export const isZero = (a) => a.n === 0n;

/** `ceil(a / b)` for a positive whole `b`, as a whole decimal. */
export function ceilDiv(a, b) {
  const [x, y] = align(a, b);
  const q = x.n / y.n;
  return dec(x.n % y.n === 0n ? q : q + 1n, 0);
}

/** Rounds half to even to `places` decimals (the currency's minor unit). */
export function round(a, places) {
  if (a.s <= places) return rescale(a, places);
  const d = pow10(a.s - places);
  let q = a.n / d;
  const r = a.n % d;
  if (r * 2n > d || (r * 2n === d && q % 2n === 1n)) q += 1n;
  return dec(q, places);
}

/** Writes a decimal without trailing zeros (`"85.7"`, `"3"`), as the API writes quantities. */
export function format(a) {
  const neg = a.n < 0n;
  let digits = (neg ? -a.n : a.n).toString().padStart(a.s + 1, '0');
  let int = digits.slice(0, digits.length - a.s);
  let frac = digits.slice(digits.length - a.s).replace(/0+$/, '');
  return (neg ? '-' : '') + int + (frac ? '.' + frac : '');
}

/** Writes a decimal with exactly `places` decimals, rounded half to even (`"4.28"`). */
export function formatFixed(a, places) {
  const r = round(a, places);
  const neg = r.n < 0n;
  const digits = (neg ? -r.n : r.n).toString().padStart(places + 1, '0');
  const int = digits.slice(0, digits.length - places);
  const frac = digits.slice(digits.length - places);
  return (neg ? '-' : '') + int + (places ? '.' + frac : '');
}

// ISO 4217 minor units, as core/src/currency.rs has them (2 for every other code).
const ZERO_PLACES = ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];
const THREE_PLACES = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'];
const FOUR_PLACES = ['CLF', 'UYW'];

/** The number of decimals a currency's amounts are rounded to. */
export function minorUnits(currency) {
  const c = String(currency || 'USD').toUpperCase();
  if (ZERO_PLACES.includes(c)) return 0;
  if (THREE_PLACES.includes(c)) return 3;
  if (FOUR_PLACES.includes(c)) return 4;
  return 2;
}

/**
 * Prices `quantity` (a decimal string) with a price as the API writes it, the way the
 * server does: `{ ok: true, tiers: [{ label, units, unit_amount, flat_amount, subtotal }],
 * subtotal, amount, minimumApplied }` with decimal strings, or `{ ok: false, error }` when
 * a field is not a decimal yet. Graduated: each unit at its tier's price, a tier's flat
 * amount only when it receives units. Volume: the first tier whose `up_to` (inclusive)
 * holds the quantity prices every unit. Package: whole packages, rounded up.
 */
export function priceExample(price, quantityText, minimumText, currency) {
  const q = parse(quantityText);
  if (!q) return { ok: false, error: 'the example quantity is not a decimal' };
  const places = minorUnits(currency);
  const need = (v, what) => {
    const d = parse(v);
    if (!d) throw new Error(`${what} is not a decimal`);
    return d;
  };
  try {
    const tiers = [];
    let subtotal = ZERO;
    switch (price.model) {
      case 'per_unit':
        subtotal = mul(q, need(price.unit_amount, 'the unit amount'));
        break;
      case 'package': {
        const size = need(price.package_size, 'the package size');
        if (size.n === 0n || size.s !== 0 && size.n % pow10(size.s) !== 0n) throw new Error('the package size is not a whole number above 0');
        const packages = ceilDiv(q, size);
        subtotal = mul(packages, need(price.package_amount, 'the package amount'));
        tiers.push({ label: `${format(packages)} package${packages.n === 1n ? '' : 's'} of ${format(size)}`, units: format(q), subtotal: format(subtotal) });
        break;
      }
      case 'graduated': {
        let lower = ZERO;
        for (const [i, t] of (price.tiers ?? []).entries()) {
          const upTo = t.up_to === null || t.up_to === '' || t.up_to === undefined ? null : need(t.up_to, `tier ${i + 1}'s "up to"`);
          const unit = need(t.unit_amount, `tier ${i + 1}'s unit amount`);
          const flat = t.flat_amount === '' || t.flat_amount == null ? ZERO : need(t.flat_amount, `tier ${i + 1}'s flat amount`);
          let units = ZERO;
          if (cmp(q, lower) > 0) {
            const upper = max(upTo === null ? q : min(upTo, q), lower);
            units = sub(upper, lower);
            lower = upper;
          }
          const cost = isZero(units) ? ZERO : add(mul(units, unit), flat);
          subtotal = add(subtotal, cost);
          tiers.push({ index: i, units: format(units), subtotal: format(cost) });
        }
        break;
      }
      case 'volume': {
        let chosen = -1;
        const parsed = (price.tiers ?? []).map((t, i) => {
          const upTo = t.up_to === null || t.up_to === '' || t.up_to === undefined ? null : need(t.up_to, `tier ${i + 1}'s "up to"`);
          const unit = need(t.unit_amount, `tier ${i + 1}'s unit amount`);
          const flat = t.flat_amount === '' || t.flat_amount == null ? ZERO : need(t.flat_amount, `tier ${i + 1}'s flat amount`);
          if (chosen < 0 && (upTo === null || cmp(q, upTo) <= 0)) chosen = i;
          return { unit, flat };
        });
        parsed.forEach((t, i) => {
          const hit = i === chosen && !isZero(q);
          const cost = hit ? add(mul(q, t.unit), t.flat) : ZERO;
          if (hit) subtotal = cost;
          tiers.push({ index: i, units: format(hit ? q : ZERO), subtotal: format(cost) });
        });
        break;
      }
      case 'fixed':
        subtotal = need(price.amount, 'the amount');
        break;
      default:
        return { ok: false, error: `unknown price model ${price.model}` };
    }
    let billed = subtotal;
    let minimumApplied = false;
    if (minimumText !== '' && minimumText != null) {
      const m = need(minimumText, 'the minimum');
      if (cmp(m, subtotal) > 0) {
        billed = m;
        minimumApplied = true;
      }
    }
    return { ok: true, tiers, subtotal: format(subtotal), amount: formatFixed(billed, places), minimumApplied };
  } catch (e) {
    return { ok: false, error: e.message };
  }
}
