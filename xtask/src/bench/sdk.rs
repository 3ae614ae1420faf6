//! What the browser SDK costs a page: bytes downloaded.

use std::path::Path;

use anyhow::Result;

pub fn section(root: &Path) -> Result<String> {
    let mut s = String::from("## SDK download size\n\n| file | bytes |\n| --- | ---: |\n");
    for file in ["waymark.js", "sdk/waymark_sdk.js", "sdk/waymark_sdk_bg.wasm"] {
        let len = std::fs::metadata(root.join("www").join(file))?.len();
        s.push_str(&format!("| `{file}` | {len} |\n"));
    }
    s.push('\n');
    Ok(s)
}
