// The declarations (index.d.ts, api.d.ts) as a TypeScript user meets them: `tsc --noEmit
// --strict` on a small program that uses the package, in a project with no DOM or Node
// types. `@ts-expect-error` lines prove the types say something (a quantity is a string,
// a usage item needs `metricCode`, …), where `any` would accept everything.
//
// TypeScript is installed (pinned) into a temporary folder, not into the repository; the
// test skips when npm cannot get it (offline with an empty cache).

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
  type Contract,
  type ContractStatus,
  type Customer,
  type DailyUsage,
  type ErrorDetail,
  type Invoice,
  type ItemCreate,
  type Page,
  type Price,
  type Rejection,
} from '@edgemeter/sdk';

async function main(): Promise<void> {
  const em = new Edgemeter({ apiKey: 'sk_test', baseUrl: 'https://billing.example.com' });

  const customer: Customer = await em.customers.create(
    { name: 'Acme', email: 'ap@acme.test', invoiceSchedule: { interval: 'week' } },
    { idempotencyKey: 'signup-42' },
  );
  const patched: Customer = await em.customers.update(customer.id, { autoSend: true });
  const page: Page<Customer> = await em.customers.list({ limit: 10 });
  const next: string | null = page.nextCursor;
  for await (const c of em.customers.listAll()) {
    const email: string = c.email;
  }

  const metric = await em.metrics.create({
    code: 'ocr', name: 'OCR', eventName: 'invoices', aggregation: 'sum', filters: { plan_tier: ['pro'] },
  });
  const tiered: ItemCreate = {
    name: 'OCR', kind: 'usage', metricCode: metric.code,
    price: { model: 'graduated', tiers: [{ upTo: 1000, unitAmount: '0.05' }, { upTo: null, unitAmount: '0.03' }] },
  };
  const item = await em.items.create(customer.id, tiered);
  const price: Price = item.price;
  if (price.model === 'package') {
    const size: number = price.packageSize;
  } else if (price.model === 'graduated' || price.model === 'volume') {
    const upTo: string | null = price.tiers[0].upTo;
  }
  await em.items.create(customer.id, { name: 'Platform', kind: 'fixed', price: { model: 'fixed', amount: '99.00' } });
  const items = (await em.items.list(customer.id)).data;
  const eventName: string | null = items[0].eventName;

  const key: string = em.track({ customerId: customer.id, eventName: 'invoices', value: '2.5' });
  await em.flush();
  const usage = await em.usage.get(customer.id, { at: new Date() });
  const quantity: string = usage.metrics[0].quantity;
  const upcoming = await em.usage.upcoming(customer.id);
  const status: 'upcoming' = upcoming.status;
  const voided = await em.usage.void({ idempotencyKey: key, customerId: customer.id });
  const done: 'voided' | 'already_voided' = voided.status;

  const invoices = await em.invoices.list({ customerId: customer.id, status: 'pending_approval' });
  const invoice: Invoice = await em.invoices.approve(invoices.data[0].id);
  const total: string = invoice.total;
  const line = invoice.lines[0];
  const events: number | undefined = line.usage?.eventCount;
  await em.invoices.void(invoice.id);

  const token = await em.tokens.create({ customerId: customer.id, ttlSeconds: 600 });
  const browser = new Edgemeter({ apiKey: token.token, baseUrl: 'https://billing.example.com' });

  try {
    await em.customers.get('cus_x');
  } catch (e) {
    if (e instanceof EdgemeterError && e.code === 'not_found') {
      const s: number | undefined = e.status;
    }
  }

  const draft: Contract = await em.contracts.create(
    { customer: { name: 'Acme', email: 'ap@acme.test' }, items: [tiered], expiresAt: '2026-12-31T00:00:00Z' },
    { idempotencyKey: 'contract-42' },
  );
  const contractStatus: ContractStatus = draft.status;
  const ctrCustomer: string | null = draft.customerId;
  const docHash: string | undefined = draft.document?.sha256;
  await em.contracts.update(draft.id, { autoSend: true, items: [tiered], expiresAt: null });
  const withDoc = await em.contracts.uploadDocument(draft.id, new Uint8Array([0x25]), { filename: 'msa.pdf' });
  await em.contracts.uploadDocument(draft.id, new ArrayBuffer(1));
  const file = await em.contracts.downloadDocument(draft.id);
  const fileBytes: Uint8Array = file.bytes;
  const fileName: string | null = file.filename;
  const accepted = await em.contracts.accept(draft.id);
  const contractId: string | null = accepted.customer.contractId;
  await em.contracts.cancel(draft.id);
  const drafts: Page<Contract> = await em.contracts.list({ status: 'draft', limit: 10 });
  for await (const c of em.contracts.listAll({ status: 'accepted' })) {
    const acceptedAt: string | null = c.acceptedAt;
  }
  const daily: DailyUsage = await em.usage.daily(customer.id, { at: new Date() });
  const dayQuantity: string = daily.metrics[0].days[0].quantity;
  const rejected: Page<Rejection> = await em.rejections.list({ customerId: customer.id, limit: 10 });
  const accountLog = await em.rejections.list();
  const sentAs: unknown = accountLog.data[0]?.event['idempotency_key'];
  try {
    await em.contracts.create({ customer: { name: 'Acme', email: 'x' }, items: [tiered] });
  } catch (e) {
    if (e instanceof EdgemeterError && e.code === 'invalid_contract') {
      const problems: readonly ErrorDetail[] = e.errors ?? [];
      const firstField: string | undefined = problems[0]?.field;
    }
  }
  // @ts-expect-error not a contract status
  await em.contracts.list({ status: 'signed' });
  // @ts-expect-error a new contract's expiry is a time or nothing
  await em.contracts.create({ customer: { name: 'Acme', email: 'x' }, items: [tiered], expiresAt: null });
  // @ts-expect-error a contract needs its customer
  await em.contracts.create({ items: [tiered] });
  // @ts-expect-error a document is bytes, not text
  await em.contracts.uploadDocument(draft.id, '%PDF-1.4');
  // @ts-expect-error the errors are read-only
  new EdgemeterError('invalid_contract', 'm').errors = [];

  // @ts-expect-error quantities are decimal strings, not numbers
  const n: number = usage.metrics[0].quantity;
  // @ts-expect-error a usage item needs metricCode
  await em.items.create(customer.id, { name: 'x', kind: 'usage', price: { model: 'per_unit', unitAmount: '1' } });
  // @ts-expect-error a fixed item takes a fixed price
  await em.items.create(customer.id, { name: 'x', kind: 'fixed', price: { model: 'per_unit', unitAmount: '1' } });
  // @ts-expect-error the SDK names fields in camelCase
  await em.customers.create({ name: 'Acme', email: 'ap@acme.test', external_id: 'x' });
  // @ts-expect-error not an aggregation
  await em.metrics.create({ code: 'x', name: 'x', eventName: 'x', aggregation: 'avg' });
  // @ts-expect-error not an invoice status
  await em.invoices.list({ status: 'paid' });
  // @ts-expect-error the resources are read-only
  em.customers = em.customers;
  // @ts-expect-error an error code the SDK does not know
  const code: EdgemeterError['code'] = 'no_such_code';
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
    // No DOM and no Node types: the declarations must stand on their own.
    lib: ['es2022'],
    types: [],
    skipLibCheck: false,
  },
  files: ['main.ts'],
};

function npm(args, cwd) {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: 'pipe' });
}

test('the declarations type-check a program that uses the tracking and API clients (tsc --strict)', async (t) => {
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
