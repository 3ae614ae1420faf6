//! Consent: a state machine per category (`analytics` for now).
//!
//! Policy:
//! - a choice made earlier and stored wins;
//! - otherwise Global Privacy Control or Do Not Track mean `denied`, unless
//!   the site configured `privacySignals: "ignore"`;
//! - otherwise `pending` when the site requires consent, else `granted`
//!   (an implicit grant, never stored and never sent as an event);
//! - a person's explicit choice is stored under [`CONSENT_KEY`], the only
//!   thing the SDK ever writes without a grant, and reported as `$consent`
//!   with properties `{category: decision, version}` ([`event_props`]),
//!   `version` being the site's `consentVersion` when it set one.

use alloc::string::String;

use crate::core::event::one_prop;
use crate::core::json::{push_key, push_string};
use crate::core::storage::KeyValue;

pub const CONSENT_KEY: &str = "waymark.consent";

/// Whether the browser asks not to be tracked: Global Privacy Control, or
/// Do Not Track (`navigator.doNotTrack`, or `window.doNotTrack` in older
/// browsers) set to `"1"`.
pub fn privacy_signal(global_privacy_control: bool, do_not_track: &str) -> bool {
    global_privacy_control || do_not_track == "1"
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Pending,
    Granted,
    Denied,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pending => "pending",
            Decision::Granted => "granted",
            Decision::Denied => "denied",
        }
    }
}

/// The categories a site can ask consent for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Category {
    Analytics,
}

impl Category {
    pub fn parse(name: &str) -> Option<Category> {
        match name {
            "analytics" | "" => Some(Category::Analytics),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Analytics => "analytics",
        }
    }
}

/// Why the state is what it is, for debug output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basis {
    Stored,
    PrivacySignal,
    Required,
    NotRequired,
    Chosen,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    analytics: Decision,
    pub basis: Basis,
}

impl Consent {
    /// The starting state; reads nothing but the stored choice.
    pub fn initial(store: &dyn KeyValue, required: bool, privacy_signal: bool) -> Consent {
        let stored = store.get(CONSENT_KEY).and_then(|raw| match raw.strip_prefix("analytics=") {
            Some("granted") => Some(Decision::Granted),
            Some("denied") => Some(Decision::Denied),
            _ => None,
        });
        let (analytics, basis) = match stored {
            Some(d) => (d, Basis::Stored),
            None if privacy_signal => (Decision::Denied, Basis::PrivacySignal),
            None if required => (Decision::Pending, Basis::Required),
            None => (Decision::Granted, Basis::NotRequired),
        };
        Consent { analytics, basis }
    }

    pub fn get(&self, category: Category) -> Decision {
        match category {
            Category::Analytics => self.analytics,
        }
    }

    /// Records a person's choice; `true` when it changed the state. The
    /// choice is stored even when it repeats the default, so that it is
    /// remembered as made.
    pub fn decide(&mut self, store: &dyn KeyValue, category: Category, decision: Decision) -> bool {
        let changed = self.get(category) != decision || self.basis != Basis::Chosen && self.basis != Basis::Stored;
        match category {
            Category::Analytics => self.analytics = decision,
        }
        self.basis = Basis::Chosen;
        let mut record = String::from("analytics=");
        record.push_str(self.analytics.as_str());
        store.set(CONSENT_KEY, &record);
        changed
    }
}

/// The properties of a `$consent` event: `{"analytics":"granted"}`, and
/// the banner's `"version"` when the site names one.
pub fn event_props(category: Category, decision: Decision, version: Option<&str>) -> String {
    let mut props = one_prop(category.as_str(), decision.as_str());
    if let Some(version) = version {
        props.pop();
        push_key(&mut props, "version");
        push_string(&mut props, version);
        props.push('}');
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::storage::MemoryStore;

    #[test]
    fn required_consent_starts_pending_and_stores_nothing() {
        let store = MemoryStore::default();
        let c = Consent::initial(&store, true, false);
        assert_eq!(c.get(Category::Analytics), Decision::Pending);
        assert!(store.is_empty());
    }

    #[test]
    fn without_required_consent_analytics_is_granted_implicitly() {
        let c = Consent::initial(&MemoryStore::default(), false, false);
        assert_eq!((c.get(Category::Analytics), c.basis), (Decision::Granted, Basis::NotRequired));
    }

    #[test]
    fn a_privacy_signal_means_denied_even_without_required_consent() {
        let c = Consent::initial(&MemoryStore::default(), false, true);
        assert_eq!((c.get(Category::Analytics), c.basis), (Decision::Denied, Basis::PrivacySignal));
    }

    #[test]
    fn a_stored_choice_wins_over_defaults_and_signals() {
        let store = MemoryStore::default();
        store.set(CONSENT_KEY, "analytics=granted");
        assert_eq!(Consent::initial(&store, true, true).get(Category::Analytics), Decision::Granted);
    }

    #[test]
    fn a_choice_is_stored_and_remembered_by_the_next_page() {
        let store = MemoryStore::default();
        let mut c = Consent::initial(&store, true, false);
        assert!(c.decide(&store, Category::Analytics, Decision::Denied));
        assert_eq!(store.get(CONSENT_KEY).as_deref(), Some("analytics=denied"));
        assert_eq!(Consent::initial(&store, true, false).get(Category::Analytics), Decision::Denied);
        assert!(c.decide(&store, Category::Analytics, Decision::Granted));
        assert!(!c.decide(&store, Category::Analytics, Decision::Granted), "repeating a choice changes nothing");
    }

    #[test]
    fn global_privacy_control_or_do_not_track_on_is_a_privacy_signal() {
        assert!(privacy_signal(true, "undefined"));
        assert!(privacy_signal(false, "1"));
        assert!(!privacy_signal(false, "0") && !privacy_signal(false, "unspecified") && !privacy_signal(false, "undefined"));
    }

    #[test]
    fn a_decision_is_reported_with_its_category_and_the_banners_version() {
        assert_eq!(event_props(Category::Analytics, Decision::Granted, None), r#"{"analytics":"granted"}"#);
        assert_eq!(event_props(Category::Analytics, Decision::Denied, Some("2024-05 \"EU\"")), r#"{"analytics":"denied","version":"2024-05 \"EU\""}"#);
    }

    #[test]
    fn unknown_categories_are_not_parsed() {
        assert_eq!(Category::parse("analytics"), Some(Category::Analytics));
        assert_eq!(Category::parse("marketing"), None);
    }
}
