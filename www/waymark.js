/* Waymark loader: reads the script tag's data-* attributes, queues calls
   made before the SDK is ready, and streams the Wasm in without blocking. */
(function (w, d) {
  var s = d.currentScript;
  if (!s || w.waymark) return;
  var base = s.src.replace(/[^/]*$/, "");
  var q = [];
  w.waymark = function () { q.push(arguments); };
  import(base + "sdk/waymark_sdk.js").then(function (m) {
    return m.default({ module_or_path: base + "sdk/waymark_sdk_bg.wasm" }).then(function () {
      m.start({ site: s.dataset.site, endpoint: s.dataset.endpoint || base + "api/collect" });
    });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
