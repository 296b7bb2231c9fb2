// Cloudflare Workers (the `workerd` export condition; see platform.web.js for the other
// builds). workerd refuses to compile wasm from bytes at run time ("Wasm code generation
// disallowed by embedder"), so the wasm comes as a module import, which wrangler's
// bundler compiles when it uploads (or serves) the Worker: its default rules make a
// `.wasm` import a `WebAssembly.Module`. sdk/build.mjs leaves this import as written.

import wasmModule from './edgemeter_sdk_bg.wasm';

export const webCrypto = globalThis.crypto;

/** The compiled module: instantiating one is allowed, compiling is not. */
export function wasmSource() {
  return wasmModule;
}
