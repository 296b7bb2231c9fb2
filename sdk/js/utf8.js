// UTF-8 for the client and wasm-bindgen's glue, with or without TextEncoder and
// TextDecoder: Jest's jsdom environment (the usual React test setup) has neither, and the
// package must load and work there without a polyfill. Where they exist they are used,
// made on first use, not at module load.

let decoder = null;
let encoder = null;

/** A TextDecoder, or where there is none an object whose `decode` does the same for UTF-8. */
export function newTextDecoder() {
  return typeof TextDecoder === 'function' ? new TextDecoder('utf-8', { ignoreBOM: true }) : { decode: decodeFallback };
}

/** `bytes` (a Uint8Array of UTF-8) as a string. */
export function decodeUtf8(bytes) {
  decoder ??= newTextDecoder();
  return decoder.decode(bytes);
}

/**
 * Writes `s` as UTF-8 into `dest` (which has room: 3 bytes per UTF-16 unit at most) and
 * returns how many bytes it wrote.
 */
export function encodeUtf8Into(s, dest) {
  if (typeof TextEncoder === 'function') {
    encoder ??= new TextEncoder();
    return encoder.encodeInto(s, dest).written;
  }
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate, as TextEncoder writes it
    if (c < 0x80) dest[n++] = c;
    else if (c < 0x800) {
      dest[n++] = 0xc0 | (c >> 6);
      dest[n++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      dest[n++] = 0xe0 | (c >> 12);
      dest[n++] = 0x80 | ((c >> 6) & 0x3f);
      dest[n++] = 0x80 | (c & 0x3f);
    } else {
      dest[n++] = 0xf0 | (c >> 18);
      dest[n++] = 0x80 | ((c >> 12) & 0x3f);
      dest[n++] = 0x80 | ((c >> 6) & 0x3f);
      dest[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

/** UTF-8 to a string without TextDecoder (what wasm and the queue write is valid UTF-8). */
function decodeFallback(bytes = new Uint8Array(0)) {
  let out = '';
  const units = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let c;
    if (b < 0x80) c = bytes[i++];
    else if (b < 0xe0) c = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f), (i += 2);
    else if (b < 0xf0) c = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f), (i += 3);
    else c = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f), (i += 4);
    if (c >= 0x10000) {
      c -= 0x10000;
      units.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else units.push(c);
    if (units.length >= 8192) out += String.fromCharCode(...units.splice(0));
  }
  return out + String.fromCharCode(...units);
}
