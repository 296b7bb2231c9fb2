// Node 18+ (see platform.web.js for the other builds). Node 18 has Web Crypto only in
// `node:crypto`; a static import is fine here, since only Node (and bundlers targeting
// Node) pick this build through the `node` export condition.

import { webcrypto } from 'node:crypto';
// The wasm's bytes as base64 text (esbuild's `base64` loader, at build time). Carried in
// the bundle rather than read from a file beside it, so that a bundle made for Node
// (esbuild, webpack) keeps working wherever it is copied.
import wasmBase64 from './edgemeter_sdk_bg.wasm';
import { decodeBase64 } from './base64.js';

export const webCrypto = globalThis.crypto?.getRandomValues ? globalThis.crypto : webcrypto;

export function wasmSource() {
  return decodeBase64(wasmBase64);
}
