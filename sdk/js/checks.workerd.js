// The checks' wasm in a Worker: a module wrangler compiles (compiling bytes is refused).

import wasmModule from './edgemeter_checks_bg.wasm';

export function checksSource() {
  return wasmModule;
}
