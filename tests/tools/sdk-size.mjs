// Prints the bytes a page downloads for the SDK, as `cargo xtask bench`
// counts them (loader, bundled module and Wasm compressed together, brotli
// at quality 11 with a 4 MiB window), without running the bench: for
// checking that a change does not grow the SDK.
//
// Usage: node tools/sdk-size.mjs [WWW_DIR]   (default: ../www)
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const www = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "www");
const files = { loader: "waymark.js", module: "sdk/waymark_sdk.js", wasm: "sdk/waymark_sdk_bg.wasm" };
// Fetched in the Wasm's place by pages with debug output or link
// autocapture on: apart from the total.
const extras = readFileSync(join(www, "sdk/waymark_sdk_extras_bg.wasm"));
const brotli = (bytes) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 22 } }).length;
const read = Object.fromEntries(Object.entries(files).map(([name, path]) => [name, readFileSync(join(www, path))]));
const all = Buffer.concat(Object.values(read));
const sizes = Object.fromEntries(Object.entries(read).map(([name, bytes]) => [name, { raw: bytes.length, brotli: brotli(bytes) }]));
sizes.all = { raw: all.length, gzip: gzipSync(all, { level: 9 }).length, brotli: brotli(all) };
sizes.extras = { raw: extras.length, brotli: brotli(extras) };
sizes.allWithExtras = { brotli: brotli(Buffer.concat([read.loader, read.module, extras])) };
console.log(JSON.stringify(sizes, null, 1));
