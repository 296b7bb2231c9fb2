// Base64 to bytes, with `atob` (a global in browsers, Node 16+, Deno, Bun and Workers).

/** The bytes base64 text stands for. */
export function decodeBase64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
