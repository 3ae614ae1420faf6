/** Options of `init()`; the script tag takes the same as `data-*` attributes (`cookieDays` → `data-cookie-days`). */
export interface WaymarkOptions {
  /** The site key the collector knows this site by. */
  site: string;
  /** Where batches go. Default: `/api/collect` on the page's origin. */
  endpoint?: string;
  /** `"required"`: nothing is stored or sent with ids until `grant()`. Default `"granted"`. */
  consent?: "required" | "granted";
  /** The version of your consent banner or policy text (at most 1000 bytes), sent with every consent decision and shown in the consent log. */
  consentVersion?: string;
  /** Without consent, send events without client ids (the collector derives a daily key). Default false. */
  cookieless?: boolean;
  /** Global Privacy Control and Do Not Track mean denied (`"honor"`, default) or are ignored. */
  privacySignals?: "honor" | "ignore";
  /** Where visitor and session ids live. Default `"localStorage"`; `"cookie"` writes nothing to localStorage (unsent events stay in memory). */
  storage?: "localStorage" | "cookie" | "none";
  /** Cookie mode: the domain to share ids across subdomains, e.g. `"example.com"`. */
  cookieDomain?: string;
  /** Cookie mode: lifetime in days (1–3650). Default 365. */
  cookieDays?: number;
  /** Idle minutes that end a session (1–1440). Default 30; the site's own rule replaces it once the collector answers with it. */
  sessionTimeoutMinutes?: number;
  /** Longest session in minutes (1–10080). Default 1440; replaced by the site's rule as above. */
  sessionMaxMinutes?: number;
  /** Pageviews on load and on single-page-app navigations. Default true. */
  autoPageviews?: boolean;
  /** Capture clicks on links to other hosts as `$outbound`. Default false. */
  outboundLinks?: boolean;
  /** Capture clicks on links to files (pdf, zip, …) as `$download`. Default false. */
  fileDownloads?: boolean;
  /** Log each event, consent decision and session roll to the console. Default false. */
  debug?: boolean;
  /** Send queued events at least this often, in ms. Default 5000. */
  flushIntervalMs?: number;
  /** Send as soon as this many events wait. Default 20. */
  flushAtEvents?: number;
  /** Waymark's own consent banner, fetched only when on (`dist/consent-banner.js`): shown while consent is `"pending"`, reopened by `consentSettings()`. Default off. */
  consentBanner?: boolean;
  /** The banner's text, also its accessible name. */
  consentBannerText?: string;
  /** A link to the privacy policy after the banner's text. */
  consentPolicyUrl?: string;
  /** The policy link's text. Default `"Privacy policy"`. */
  consentPolicyLabel?: string;
  /** The Accept button's label. Default `"Accept"`. */
  consentAcceptLabel?: string;
  /** The Reject button's label. Default `"Reject"`. */
  consentRejectLabel?: string;
  /** A small fixed button that reopens the banner once the visitor has chosen: `true` for "Privacy settings", or its label. Default off. */
  consentSettingsLink?: boolean | string;
}

export type ConsentCategory = "analytics";
export type ConsentState = "pending" | "granted" | "denied";
/** Property values: strings (≤ 1000 bytes), finite numbers, booleans; at most 64 per event. */
export type PropValue = string | number | boolean;

/** Starts Waymark; resolves once the SDK runs. Calls made before are queued. */
export function init(options: WaymarkOptions): Promise<void>;
/** A custom event. Names starting with `$` are reserved. */
export function track(name: string, props?: Record<string, PropValue>): void;
/** A pageview of the current location (automatic unless `autoPageviews: false`). */
export function page(): void;
/** Links this visitor to your user id (needs analytics consent). */
export function identify(userId: string): void;
/** At logout: a new visitor and session without the user id. */
export function reset(): void;
export function grant(category?: ConsentCategory): void;
export function deny(category?: ConsentCategory): void;
/** The current state, or `undefined` before the SDK is ready. */
export function consent(category?: ConsentCategory): ConsentState | undefined;
/** Called now with the current state, then on every change. */
export function onConsent(listener: (category: ConsentCategory, state: ConsentState) => void): void;
/** Opens the consent banner again (needs `consentBanner`), with focus in it, for the visitor to change their choice. */
export function consentSettings(): void;
/** Sends queued events now. */
export function flush(): void;
