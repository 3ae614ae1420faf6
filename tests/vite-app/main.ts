import { init, track, onConsent, type WaymarkOptions } from "@waymark/sdk";

const query = new URLSearchParams(location.search);
const collector = query.get("collector") ?? "";
const options: WaymarkOptions = { site: "demo", endpoint: `${collector}/api/collect`, flushAtEvents: 1 };
// `?banner`: consent required, asked by the SDK's own banner.
if (query.has("banner")) Object.assign(options, { consent: "required", consentBanner: true, consentAcceptLabel: "Yes" });

track("vite_app_loaded", { bundler: "vite" }); // queued until the SDK is ready
init(options).then(() => {
  onConsent((_, state) => {
    document.getElementById("status")!.textContent = `ready, analytics ${state}`;
  });
});
