// Bundles the browser SDK into one minified ES module with rolldown (the
// bundler Vite itself uses, already installed here): the public module
// (sdk-wasm/js/index.js), wasm-bindgen's glue and the browser edge it
// imports (sdk-wasm/js/browser.js, copied by wasm-bindgen under
// snippets/). `cargo xtask build-sdk` runs it on wasm-bindgen's output
// directory, which then holds just `waymark_sdk.js` and the `.wasm`:
// every visitor downloads both.
//
// Usage: node bundle-sdk.mjs SDK_JS_DIR OUT_DIR
import { build } from "rolldown";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const [source, out] = process.argv.slice(2);
const entry = join(out, "index.js");
copyFileSync(join(source, "index.js"), entry);
const glue = join(out, "waymark_sdk.js");
try {
  await build({
    input: entry,
    logLevel: "warn",
    output: { file: glue, format: "esm", minify: true, legalComments: "none" },
    write: true,
  });
} finally {
  rmSync(entry);
}
rmSync(join(out, "snippets"), { recursive: true, force: true });
