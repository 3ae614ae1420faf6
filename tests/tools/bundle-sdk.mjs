// Bundles the browser SDK into one minified ES module with rolldown (the
// bundler Vite itself uses, already installed here): the public module
// (sdk-wasm/js/index.js), wasm-bindgen's glue and the browser edge both
// import (sdk-wasm/js/browser.js, which wasm-bindgen copies under
// snippets/; the glue is pointed at the one copy). `cargo xtask build-sdk` runs it on wasm-bindgen's output
// directory, which then holds just `waymark_sdk.js` and the `.wasm`:
// every visitor downloads both (or, in the `.wasm`'s place,
// `waymark_sdk_extras_bg.wasm`, with debug output and link autocapture);
// and `consent-banner.js`, minified, which only pages with the consent
// banner switched on download.
//
// Before bundling, the Wasm's import and export names are shortened by
// binaryen (`--minify-imports-and-exports-and-modules`) and the glue is rewritten to
// match: wasm-bindgen names each import after its function plus a hash,
// which is written twice (module and glue) and does not compress. The glue
// exports its import object and its finishing step instead of its loader,
// which the public module does without (see index.js).
//
// Usage: node bundle-sdk.mjs SDK_JS_DIR OUT_DIR
import { build } from "rolldown";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [source, out] = process.argv.slice(2);
const glue = join(out, "waymark_sdk.js");

// Both modules (without and with the `extras` feature: see
// sdk-wasm/Cargo.toml) must get the same short names, or the one glue would
// not fit both. The glue is the extras module's, whose imports are all the
// smaller module's and a few more (cookies: the smaller module keeps none),
// with the same exports. Binaryen names them in the order the module lists
// them, which differs between the two; so the extras module's names are
// given to the smaller module's imports and exports by their long names
// (each of which must be among them). Both passes also drop the target
// features section, which only binaryen's passes read.
const wasmOpt = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", ".bin", "wasm-opt");
const extras = join(out, "waymark_sdk_extras_bg.wasm");
const printed = execFileSync(wasmOpt, [extras, "--minify-imports-and-exports-and-modules", "--strip-target-features", "-o", extras], { encoding: "utf8" });
const names = JSON.parse(printed.slice(printed.indexOf("{"), printed.lastIndexOf("}") + 1));
const main = join(out, "waymark_sdk_bg.wasm");
execFileSync(wasmOpt, [main, "--strip-target-features", "-o", main]);
writeFileSync(main, withNames(readFileSync(main), names));

/** `wasm` (a module's bytes) with its imports and exports renamed as
 * binaryen's `names` say; every one of them must be named there. Only the
 * import and export sections are rewritten. */
function withNames(wasm, { imports, exports }) {
  const importName = new Map(imports.map(([module, name, short]) => [module + "\0" + name, short]));
  const exportName = new Map(exports);
  const fail = (what) => {
    throw new Error(`bundle-sdk: the smaller module's ${what} is not the extras module's; one glue cannot serve both`);
  };
  let at = 0;
  const leb = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = wasm[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const encodeLeb = (value) => {
    const bytes = [];
    do {
      let byte = value % 128;
      value = Math.floor(value / 128);
      if (value) byte |= 0x80;
      bytes.push(byte);
    } while (value);
    return Buffer.from(bytes);
  };
  const name = () => {
    const length = leb();
    at += length;
    return wasm.subarray(at - length, at).toString("utf8");
  };
  const encodeName = (text) => Buffer.concat([encodeLeb(Buffer.byteLength(text)), Buffer.from(text)]);
  const limits = () => {
    const flags = wasm[at++];
    leb();
    if (flags & 1) leb();
  };
  const parts = [wasm.subarray(0, 8)];
  at = 8;
  while (at < wasm.length) {
    const id = wasm[at++];
    const size = leb();
    const start = at;
    const end = start + size;
    if (id != 2 && id != 7) {
      parts.push(wasm.subarray(start - 1 - encodeLeb(size).length, end));
      at = end;
      continue;
    }
    const entries = [encodeLeb(leb())];
    while (at < end) {
      if (id == 2) {
        const key = name() + "\0" + name();
        const described = at;
        const kind = wasm[at++];
        if (kind == 0 || kind == 4) (kind == 4 && at++, leb());
        else if (kind == 1) (at++, limits());
        else if (kind == 2) limits();
        else if (kind == 3) at += 2;
        else fail(`import kind ${kind}`);
        entries.push(encodeName("a"), encodeName(importName.get(key) ?? fail(`import ${key}`)), wasm.subarray(described, at));
      } else {
        const long = name();
        const described = at;
        at++;
        leb();
        entries.push(encodeName(exportName.get(long) ?? fail(`export ${long}`)), wasm.subarray(described, at));
      }
    }
    const content = Buffer.concat(entries);
    parts.push(Buffer.from([id]), encodeLeb(content.length), content);
  }
  return Buffer.concat(parts);
}

writeFileSync(glue, renamed(readFileSync(glue, "utf8"), names));

/** The glue with the Wasm's minified names: every import now comes from
 * one module, `a`. */
function renamed(code, { imports, exports }) {
  const own = "./waymark_sdk_bg.js";
  const fail = (what) => {
    throw new Error(`bundle-sdk: ${what} not found in wasm-bindgen's glue (has its output changed?)`);
  };
  const replace = (pattern, by, what) => {
    if (!pattern.test(code)) fail(what);
    code = code.replace(pattern, by);
  };
  // Strings go into Wasm by `TextEncoder.encode` alone, which every browser
  // the SDK supports has: wasm-bindgen's ASCII loop, its growing with
  // `realloc` and its `encodeInto` fallback are glue every page would
  // download for no gain on the SDK's short strings.
  replace(/function passStringToWasm0\(arg, malloc, realloc\) \{\n[^]*?\n\}\n/, `function passStringToWasm0(arg, malloc) {
    const buf = cachedTextEncoder.encode(arg);
    const ptr = malloc(buf.length, 1) >>> 0;
    getUint8ArrayMemory0().set(buf, ptr);
    WASM_VECTOR_LEN = buf.length;
    return ptr;
}
`, "passStringToWasm0");
  replace(/\nif \(!\('encodeInto' in cachedTextEncoder\)\) \{\n[^]*?\n\}\n/, "\n", "the encodeInto fallback");
  code = code.replaceAll(", wasm.__wbindgen_malloc, wasm.__wbindgen_realloc)", ", wasm.__wbindgen_malloc)");
  if (code.includes("__wbindgen_realloc")) fail("every passStringToWasm0 call");
  // Imports of the glue's own module are keys of its import object;
  // snippet functions (imported whole as `import * as importN`) join them.
  const snippet = [];
  for (const [module, name, short] of imports) {
    if (module === own) replace(new RegExp(`\\b${name}:`), `${short}:`, `import ${name}`);
    else {
      const ns = code.match(new RegExp(`import \\* as (import\\d+) from "${module.replace(/[./]/g, "\\$&")}"`))?.[1] ?? fail(`module ${module}`);
      snippet.push(`${short}: ${ns}.${name},`);
    }
  }
  replace(/const import0 = \{\n\s*__proto__: null,/, (all) => `${all}\n${snippet.join("\n")}`, "the import object");
  replace(/return \{\n\s*__proto__: null,\n(\s*"[^"]+": import\d+,\n)+\s*\};/, "return { __proto__: null, a: import0 };", "the imports' modules");
  // The public module instantiates the Wasm itself, with these two.
  replace(/export \{ initSync, __wbg_init as default \};/, "export { __wbg_get_imports, __wbg_finalize_init };", "the glue's exports");
  // The public module imports browser.js too: both must get the one copy.
  code = code.replaceAll(/(["'])\.\/snippets\/[^"']*\/js\/browser\.js\1/g, '"./browser.js"');
  const short = new Map(exports);
  return code.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (all, name) => (short.has(name) ? `wasm.${short.get(name)}` : fail(`export ${name}`)));
}

const entry = join(out, "index.js");
copyFileSync(join(source, "index.js"), entry);
copyFileSync(join(source, "browser.js"), join(out, "browser.js"));
try {
  await build({
    input: entry,
    logLevel: "warn",
    output: { file: glue, format: "esm", minify: true, comments: { legal: false } },
    write: true,
  });
} finally {
  rmSync(entry);
  rmSync(join(out, "browser.js"));
}
rmSync(join(out, "snippets"), { recursive: true, force: true });

// The consent banner: its own minified module beside the SDK, which
// `index.js` imports only on pages that switch it on.
await build({
  input: join(source, "consent-banner.js"),
  logLevel: "warn",
  output: { file: join(out, "consent-banner.js"), format: "esm", minify: true, comments: { legal: false } },
  write: true,
});
