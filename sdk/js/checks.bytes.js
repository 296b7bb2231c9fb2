// The checks' wasm (`@edgemeter/sdk/verify`) as base64 text in the bundle (esbuild's
// `base64` loader), for browsers, bundlers and Node, as platform.web.js carries the
// tracking client's.

import wasmBase64 from './edgemeter_checks_bg.wasm';
import { decodeBase64 } from './base64.js';

export function checksSource() {
  return decodeBase64(wasmBase64);
}
