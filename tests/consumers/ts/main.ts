// A TypeScript app, compiled with --strict under each module resolution mode (run.mjs
// copies this file as main.mts, main.cts or main.ts) and then run. It needs neither the
// DOM nor Node's types: the runner calls `run` with its config.
import { Edgemeter, EdgemeterError, type FlushResult, type Options } from '@edgemeter/sdk';

export interface Config {
  baseUrl: string;
  apiKey: string;
  customerId: string;
  eventName: string;
  n: number;
}

export interface Outcome {
  accepted: number;
  failed: number;
  rejected: number;
  refused: string | null;
  errors: string[];
}

export async function run(cfg: Config): Promise<Outcome> {
  const errors: string[] = [];
  const options: Options = { apiKey: cfg.apiKey, baseUrl: cfg.baseUrl, onError: (e) => errors.push(e.code) };
  const meter = new Edgemeter(options);
  for (let i = 0; i < cfg.n; i++) {
    const key: string = meter.track({ customerId: cfg.customerId, eventName: cfg.eventName, value: '2', properties: { i } });
  }
  let refused: string | null = null;
  try {
    meter.track({ customerId: cfg.customerId, eventName: cfg.eventName, value: -1 });
  } catch (e) {
    if (e instanceof EdgemeterError) refused = e.code;
  }
  // The declared constructor is the real one.
  const own = new EdgemeterError('invalid_option', 'made here', { field: 'apiKey', idempotencyKeys: [] });
  const field: string | undefined = own.field;
  // @ts-expect-error a code and a message are required
  new EdgemeterError('boom');
  // @ts-expect-error not an error code
  new EdgemeterError('boom', 'message');

  const result: FlushResult = await meter.shutdown({ timeoutMs: 60_000 });
  const timedOut: boolean = result.timedOut;
  const typeChecksOnly = (): void => {
    // @ts-expect-error events are objects
    meter.track('invoices');
    // @ts-expect-error timeoutMs is a number
    void meter.flush({ timeoutMs: '1s' });
  };
  return { accepted: result.accepted, failed: result.failed.length, rejected: result.rejected.length, refused, errors };
}
