/* Waymark loader. Reads the script tag's data-* attributes, queues calls
   made before the SDK is ready (window.waymark("track", "signup", {...})),
   and streams the Wasm in without blocking the page. Never throws into
   the page: errors go to the console. */
(function (w, d) {
  var s = d.currentScript, stub = w.waymark, q = (stub && stub.q) || [], m;
  if (!s || (stub && !stub.q)) return;
  var base = s.src.replace(/[^/]*$/, "");
  function call(a) {
    try { return m[a[0]].apply(0, [].slice.call(a, 1)); }
    catch (e) { console.error("waymark: " + a[0] + "() failed", e); }
  }
  w.waymark = function () { if (m) return call(arguments); q.push(arguments); };
  import(base + "sdk/waymark_sdk.js").then(function (x) {
    return x.default({ module_or_path: base + "sdk/waymark_sdk_bg.wasm" }).then(function () {
      var c = {}, k;
      for (k in s.dataset) c[k] = s.dataset[k];
      c.endpoint = c.endpoint || base + "api/collect";
      m = x;
      call(["start", c]);
      q.forEach(call);
    });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
