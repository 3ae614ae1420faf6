import { init, track, onConsent, type WaymarkOptions } from "@waymark/sdk";

const collector = new URLSearchParams(location.search).get("collector") ?? "";
const options: WaymarkOptions = { site: "demo", endpoint: `${collector}/api/collect`, flushAtEvents: 1 };

track("vite_app_loaded", { bundler: "vite" }); // queued until the SDK is ready
init(options).then(() => {
  onConsent((_, state) => {
    document.getElementById("status")!.textContent = `ready, analytics ${state}`;
  });
});
