// The declarations of credits, the balance, alerts, limits, entitlements and
// reservations (api.d.ts) as a TypeScript user meets them: `tsc --noEmit --strict` on a
// small program, as types.test.mjs does for the rest of the client. `@ts-expect-error`
// lines prove the types say something (an amount is a decimal string, a usage alert
// names its metric, `withReservation`'s callback reports a quantity, …).
//
// TypeScript is installed (pinned) into a temporary folder; the test skips when npm
// cannot get it (offline with an empty cache).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPESCRIPT = 'typescript@5.9.3';
const pkgDir = fileURLToPath(new URL('../../sdk/pkg/', import.meta.url));

const PROGRAM = `
import {
  Edgemeter,
  EdgemeterError,
  type Alert,
  type Balance,
  type CreditGrant,
  type CreditGrantStatus,
  type Entitlement,
  type Entitlements,
  type Invoice,
  type Limit,
  type Page,
  type Reservation,
  type ReservationCommitted,
} from '@edgemeter/sdk';

async function main(): Promise<void> {
  const em = new Edgemeter({ apiKey: 'sk_test', baseUrl: 'https://billing.example.com' });
  const cus = 'cus_01jf3z9k4m5n6p7q8r9s0t1v2w';

  const grant: CreditGrant = await em.creditGrants.create(
    cus,
    { amount: '100.00', name: 'Prepaid', priority: 10, effectiveAt: new Date(), expiresAt: '2027-01-01T00:00:00Z' },
    { idempotencyKey: 'payment-42' },
  );
  const remaining: string = grant.remaining;
  const status: CreditGrantStatus = grant.status;
  const expires: string | null = grant.expiresAt;
  const grants: Page<CreditGrant> = await em.creditGrants.list(cus, { limit: 10 });
  for await (const g of em.creditGrants.listAll(cus)) {
    const voidedAt: string | null = g.voidedAt;
  }
  await em.creditGrants.get(cus, grant.id);
  const voided: CreditGrant = await em.creditGrants.void(cus, grant.id);

  const balance: Balance = await em.balance.get(cus);
  const available: string = balance.credits.available;
  const pending: string = balance.credits.pendingDraw;
  const due: string = balance.amountDueSoFar;

  const invoice: Invoice = await em.invoices.get('inv_1');
  const amountDue: string = invoice.amountDue;
  const drawn: string | undefined = invoice.creditsApplied[0]?.amount;
  const upcoming = await em.usage.upcoming(cus);
  const upcomingDue: string = upcoming.amountDue;

  const alert: Alert = await em.alerts.create(cus, { name: '80%', kind: 'usage', metricCode: 'ocr', threshold: 800 });
  await em.alerts.create(cus, { name: 'low', kind: 'credit_balance', threshold: '10.00' });
  const fired: string | null = alert.lastTriggeredAt;
  const alerts: Page<Alert> = await em.alerts.list(cus);
  const deleted: void = await em.alerts.delete(cus, alert.id);

  const limit: Limit = await em.limits.put(cus, 'ocr', { max: 1000, mode: 'hard' });
  const max: string = limit.max;
  const limits: Page<Limit> = await em.limits.list(cus);
  await em.limits.delete(cus, 'ocr');

  const all: Entitlements = await em.entitlements.get(cus);
  const one: Entitlement = await em.entitlements.get(cus, 'ocr');
  const left: string | null = one.remaining;
  const allowed: boolean = all.data[0].allowed;

  const held: Reservation = await em.reservations.create(cus, { metricCode: 'tokens', quantity: 4000, ttlSeconds: 60 });
  const committed: ReservationCommitted = await em.reservations.commit(cus, held.id, { value: '1234', properties: { model: 'small' } });
  const eventKey: string = committed.event.idempotencyKey;
  await em.reservations.commit(cus, held.id);
  const released: Reservation = await em.reservations.release(cus, held.id);
  const open: Page<Reservation> = await em.reservations.list(cus, { status: 'held', limit: 10 });
  const again: Reservation = await em.reservations.get(cus, held.id);
  for await (const r of em.reservations.listAll(cus)) {
    const key: string = r.idempotencyKey;
  }
  await em.limits.put(cus, 'ocr', { max: '5' });
  const viaHelper: ReservationCommitted = await em.reservations.withReservation(
    cus,
    { metricCode: 'tokens', quantity: '4000' },
    async (r: Reservation) => (r.quantity === '4000' ? 1234 : { value: '10', timestamp: new Date() }),
  );
  await em.reservations.withReservation(cus, { metricCode: 'tokens', quantity: 1 }, () => undefined);

  try {
    await em.reservations.create(cus, { metricCode: 'tokens', quantity: 1 });
  } catch (e) {
    if (e instanceof EdgemeterError && (e.code === 'limit_exceeded' || e.code === 'reservation_expired')) {
      const s: number | undefined = e.status;
    }
  }

  // @ts-expect-error an amount is a decimal string, never a float
  await em.creditGrants.create(cus, { amount: 100, name: 'x' });
  // @ts-expect-error a grant needs its amount
  await em.creditGrants.create(cus, { name: 'x' });
  // @ts-expect-error a usage alert names its metric
  await em.alerts.create(cus, { name: 'x', kind: 'usage', threshold: '1' });
  // @ts-expect-error a spend alert takes no metric
  await em.alerts.create(cus, { name: 'x', kind: 'spend', metricCode: 'ocr', threshold: '1' });
  // @ts-expect-error not an alert kind
  await em.alerts.create(cus, { name: 'x', kind: 'weather', threshold: '1' });
  // @ts-expect-error not a reservation status
  await em.reservations.list(cus, { status: 'open' });
  // @ts-expect-error not a limit mode
  await em.limits.put(cus, 'ocr', { max: '1', mode: 'firm' });
  // @ts-expect-error one metric's entitlement is not the list
  const wrong: Entitlements = await em.entitlements.get(cus, 'ocr');
  // @ts-expect-error balances are decimal strings
  const n: number = balance.credits.available;
  // @ts-expect-error a callback reports a quantity, not a list
  await em.reservations.withReservation(cus, { metricCode: 't', quantity: 1 }, () => [1]);
  // @ts-expect-error the SDK names fields in camelCase
  await em.reservations.create(cus, { metric_code: 't', quantity: 1 });
  // @ts-expect-error an error code the SDK does not know
  const code: EdgemeterError['code'] = 'reservation_lost';
}

main();
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    lib: ['es2022'],
    types: [],
    skipLibCheck: false,
  },
  files: ['main.ts'],
};

function npm(args, cwd) {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: 'pipe' });
}

test('the declarations of credits, alerts, limits and reservations type-check a program that uses them (tsc --strict)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgemeter-sdk-types-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    try {
      npm(['install', '--prefer-offline', '--no-save', TYPESCRIPT], dir);
    } catch (e) {
      t.skip(`cannot install ${TYPESCRIPT}: ${String(e.stderr ?? e).split('\n')[0]}`);
      return;
    }
    const sdk = join(dir, 'node_modules/@edgemeter/sdk');
    mkdirSync(sdk, { recursive: true });
    cpSync(pkgDir, sdk, { recursive: true });
    writeFileSync(join(dir, 'main.ts'), PROGRAM);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    try {
      execFileSync(join(dir, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      assert.fail(`tsc found errors:\n${e.stdout}${e.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
