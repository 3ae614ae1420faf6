// Bundles the browser SDK into one minified ES module with rolldown (the
// bundler Vite itself uses, already installed here): the public module
// (sdk-wasm/js/index.js), wasm-bindgen's glue and the browser edge both
// import (sdk-wasm/js/browser.js, which wasm-bindgen copies under
// snippets/; the glue is pointed at the one copy). `cargo xtask build-sdk` runs it on wasm-bindgen's output
// directory, which then holds just `waymark_sdk.js` and the `.wasm`:
// every visitor downloads both; and `consent-banner.js`, minified, which
// only pages with the consent banner switched on download.
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
const wasm = join(out, "waymark_sdk_bg.wasm");
const glue = join(out, "waymark_sdk.js");

const wasmOpt = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", ".bin", "wasm-opt");
const printed = execFileSync(wasmOpt, [wasm, "--minify-imports-and-exports-and-modules", "-o", wasm], { encoding: "utf8" });
const names = JSON.parse(printed.slice(printed.indexOf("{"), printed.lastIndexOf("}") + 1));
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
