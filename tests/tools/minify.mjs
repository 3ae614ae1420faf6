// Minifies JS files in place with the oxc minifier that ships with
// rolldown (a Vite dependency already installed here). `cargo xtask
// build-sdk` runs it on wasm-bindgen's glue: every visitor downloads it.
import { minifySync } from "rolldown/experimental";
import { readFileSync, writeFileSync } from "node:fs";

for (const file of process.argv.slice(2)) {
  const { code, errors } = minifySync(file, readFileSync(file, "utf8"), { compress: true, mangle: true });
  if (errors?.length) throw new Error(`${file}: ${errors.map((e) => e.message).join("; ")}`);
  writeFileSync(file, code);
}
