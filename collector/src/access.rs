//! Who may see and do what in the dashboard and the query API: the
//! permission model, pure data and rules, with no I/O.
//!
//! Policy:
//! - everyone who reads is a [`Principal`]: a signed-in dashboard user or
//!   an API token, each with a [`Role`] and the [`Sites`] given to them;
//! - a **viewer** reads the numbers (queries, live, exports) of their sites
//!   and nothing else; an **admin** reads their sites too and may also do
//!   what changes or removes data or accounts (managing users; erasure
//!   will call the same check, [`Principal::require_admin`]);
//! - a site not given to a principal is refused as `forbidden` (403), not
//!   hidden as unknown: site keys are public (every tracked page shows its
//!   own), so hiding one protects nothing, and "not yours" is what the
//!   reader can act on (ask an admin);
//! - the site list a principal is shown ([`Principal::may_see`]) and the
//!   check on each request are the same rule, so the picker never offers a
//!   site that would then be refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Result<Role, String> {
        match text {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("a role is \"admin\" or \"viewer\", got {other:?}")),
        }
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        Role::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The sites a principal may read: every configured site (`"all"`, also
/// those added to the config later), or the listed keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sites {
    #[default]
    All,
    Only(Vec<String>),
}

impl Sites {
    pub fn includes(&self, site: &str) -> bool {
        match self {
            Sites::All => true,
            Sites::Only(keys) => keys.iter().any(|k| k == site),
        }
    }

    /// `"all"` or `"shop,blog"`, as the command line takes and shows them.
    pub fn parse_list(text: &str) -> Sites {
        if text.trim() == "all" {
            return Sites::All;
        }
        Sites::Only(text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect())
    }

    pub fn describe(&self) -> String {
        match self {
            Sites::All => "all".into(),
            Sites::Only(keys) => keys.join(","),
        }
    }

    /// The keys that name no configured site, for a message that says so.
    pub fn unknown<'a>(&'a self, configured: &'a [&str]) -> Vec<&'a str> {
        match self {
            Sites::All => Vec::new(),
            Sites::Only(keys) => keys.iter().map(String::as_str).filter(|k| !configured.contains(k)).collect(),
        }
    }
}

/// `"all"` or a list of site keys, in the config and in JSON.
impl Serialize for Sites {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Sites::All => s.serialize_str("all"),
            Sites::Only(keys) => keys.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Sites {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sites, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Keys(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Sites::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("`sites` is \"all\" or a list of site keys, got {w:?}"))),
            Raw::Keys(keys) => Ok(Sites::Only(keys)),
        }
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The dashboard's session cookie: a browser, so changes it asks for
    /// are checked for cross-site origin too.
    Session,
    /// `Authorization: Bearer`: a script.
    Token,
}

/// Someone the collector let in, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's name, or the token's.
    pub name: String,
    pub role: Role,
    pub sites: Sites,
    pub via: Via,
}

/// Why a principal was refused: turned into 403 `forbidden` at the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("site {site:?} is not one of the sites given to {name:?}; an admin can add it")]
    Site { name: String, site: String },
    #[error("only an admin may {action}; {name:?} is a viewer")]
    NotAdmin { name: String, action: &'static str },
}

impl Principal {
    pub fn may_see(&self, site: &str) -> bool {
        self.sites.includes(site)
    }

    /// Passes when the site is one of the principal's.
    pub fn require_site(&self, site: &str) -> Result<(), Denied> {
        if self.may_see(site) { Ok(()) } else { Err(Denied::Site { name: self.name.clone(), site: site.to_owned() }) }
    }

    /// Passes for an admin; `action` completes "only an admin may …".
    pub fn require_admin(&self, action: &'static str) -> Result<(), Denied> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(Denied::NotAdmin { name: self.name.clone(), action }),
        }
    }
}

// Names and site lists, as config and database users share them.

/// The user `[dashboard] admin_password` signs in.
pub const ADMIN: &str = "admin";
const MAX_NAME_CHARS: usize = 64;

pub fn check_name(name: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || "._-@".contains(c);
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(fine) {
        return Err(format!("a user name is 1 to {MAX_NAME_CHARS} letters, digits, `.`, `_`, `-` or `@`, got {name:?}"));
    }
    Ok(())
}

pub fn check_sites(sites: &Sites, configured: &[&str]) -> Result<(), String> {
    if sites == &Sites::Only(Vec::new()) {
        return Err("give at least one site, or \"all\"".into());
    }
    let unknown = sites.unknown(configured);
    if !unknown.is_empty() {
        return Err(format!("no [[site]] is configured with the key {:?}", unknown.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(sites: Sites) -> Principal {
        Principal { name: "ana".into(), role: Role::Viewer, sites, via: Via::Session }
    }

    #[test]
    fn a_viewer_sees_only_the_sites_given_and_may_not_do_what_an_admin_does() {
        let ana = viewer(Sites::Only(vec!["shop".into()]));
        assert!(ana.require_site("shop").is_ok());
        let refused = ana.require_site("blog").unwrap_err().to_string();
        assert!(refused.contains("\"blog\"") && refused.contains("an admin can add it"), "{refused}");
        let refused = ana.require_admin("erase data").unwrap_err().to_string();
        assert_eq!(refused, "only an admin may erase data; \"ana\" is a viewer");
        let admin = Principal { role: Role::Admin, ..viewer(Sites::All) };
        assert!(admin.require_admin("erase data").is_ok());
        assert!(admin.require_site("anything").is_ok());
    }

    #[test]
    fn sites_are_all_or_a_list_in_config_and_json() {
        let all: Sites = serde_json::from_str("\"all\"").unwrap();
        assert_eq!(all, Sites::All);
        let some: Sites = serde_json::from_str("[\"shop\"]").unwrap();
        assert_eq!(some, Sites::Only(vec!["shop".into()]));
        assert!(serde_json::from_str::<Sites>("\"shop\"").unwrap_err().to_string().contains("list of site keys"));
        assert_eq!(serde_json::to_string(&Sites::All).unwrap(), "\"all\"");
        assert_eq!(Sites::parse_list("shop, blog"), Sites::Only(vec!["shop".into(), "blog".into()]));
        assert_eq!(Sites::parse_list("all"), Sites::All);
        assert_eq!(Sites::Only(vec!["a".into(), "x".into()]).unknown(&["a", "b"]), vec!["x"]);
    }

    #[test]
    fn roles_are_admin_or_viewer() {
        assert_eq!(Role::parse("viewer"), Ok(Role::Viewer));
        assert!(Role::parse("owner").unwrap_err().contains("\"owner\""));
    }
}
