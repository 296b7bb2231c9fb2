// What differs between the runtimes the package runs in (Node 18+, browsers, through a
// bundler or not), kept here so the rest of the SDK need not know.

/**
 * A Node built-in module (`node:<name>`), imported only where it is used. The specifier
 * is assembled at run time and marked for webpack and Vite, so no bundler tries to
 * resolve it for a browser build (esbuild folds a `'node:' + 'x'` literal and fails).
 */
export function nodeModule(name) {
  const specifier = ['node', name].join(':');
  return import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
}

/** Web Crypto: a global in browsers and Node 19+; Node 18 has it in `node:crypto` only. */
export const webCrypto = globalThis.crypto?.getRandomValues
  ? globalThis.crypto
  : (await nodeModule('crypto')).webcrypto;
