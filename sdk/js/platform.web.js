// What differs between the runtimes the package runs in, one file per build of the
// package (sdk/build.mjs bundles the client with one of them as `./platform.js`):
// - platform.web.js (this file): browsers, bundlers, Deno, Bun and anything else with
//   Web Crypto; the wasm is carried in the bundle as base64 text.
// - platform.node.js: Node 18+ (Node 18 has Web Crypto only in `node:crypto`).
// - platform.workerd.js: Cloudflare Workers, which refuse to compile wasm from bytes at
//   run time: the wasm is a module import that wrangler's bundler compiles beforehand.
//
// Each exports `webCrypto` and `wasmSource()`, what wasm-bindgen's `initSync` takes:
// the wasm's bytes or a compiled `WebAssembly.Module`. Nothing here awaits: the package
// has no top-level await, so CommonJS and every bundler's default target can load it.

// The wasm's bytes as base64 text (esbuild's `base64` loader, at build time).
import wasmBase64 from './edgemeter_sdk_bg.wasm';
import { decodeBase64 } from './base64.js';

/** Web Crypto, a global wherever this build runs. */
export const webCrypto = globalThis.crypto;

/** The wasm's bytes, decoded when the first client is made (about 1 ms), not at import. */
export function wasmSource() {
  return decodeBase64(wasmBase64);
}
