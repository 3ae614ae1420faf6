// The npm entry point: the same bundled SDK module the script tag loads
// (`dist/waymark_sdk.js`, with the `.wasm` next to it). It loads the Wasm
// once, queues calls made before it is ready, and never throws into the
// app (errors go to the console).
export { init, track, page, identify, reset, grant, deny, consent, onConsent, consentSettings, flush } from "./dist/waymark_sdk.js";
