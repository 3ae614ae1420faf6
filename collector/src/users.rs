//! The dashboard's users: who they are, where each is defined, and the
//! rules for adding, changing and removing them, the same from the command
//! line (`waymark users …`) and from the dashboard (admins only).
//!
//! Policy:
//! - users come from two places: the config file (`[[dashboard.user]]`,
//!   and `[dashboard] admin_password`, which is the admin `admin` of every
//!   site, as before there were several users) and the database (added at
//!   run time). The file wins a name both hold, and its users are changed
//!   only by editing it: the file is what the operator reviews;
//! - when neither place has an admin, an `admin` password is generated at
//!   start and printed once on stdout, so a fresh install can be opened;
//! - a name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`; a password
//!   set here has at least [`MIN_PASSWORD_CHARS`] characters; passwords are
//!   kept only as Argon2id hashes; a user's sites name configured sites
//!   (a site later removed from the config is simply not shown);
//! - an unknown name and a wrong password are one answer, checked in the
//!   same time (a hash is verified either way): sign-in does not tell a
//!   guesser which names exist.

use std::sync::{Arc, OnceLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::Serialize;

use crate::access::{ADMIN, Role, Sites, check_name, check_sites};
use crate::config::Config;
use crate::store::StoreError;
use crate::store::accounts::{Accounts, StoredUser};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// The environment variable that sets `[dashboard] admin_password`.
pub const PASSWORD_ENV: &str = "WAYMARK_DASHBOARD__ADMIN_PASSWORD";

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("there is already a user {0:?}")]
    Exists(String),
    #[error("no user {0:?}")]
    Unknown(String),
    #[error("user {0:?} is defined in the config file; change it there")]
    InConfig(String),
    #[error("a password could not be hashed or read: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a user is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Config,
    Database,
}

/// A user as listed: never their password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub sites: Sites,
    pub source: Source,
}

/// A change to a stored user; `None` keeps what is there.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub role: Option<Role>,
    pub sites: Option<Sites>,
    pub password: Option<String>,
}

fn check_new_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::Invalid(format!("a password has at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, UserError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| UserError::Hash(e.to_string()))
}

/// A PHC hash as given (checked), or plain text hashed now.
fn hash_configured(password: &str) -> Result<String, UserError> {
    if password.starts_with("$argon2") {
        argon2::password_hash::phc::PasswordHash::new(password).map_err(|e| UserError::Hash(e.to_string()))?;
        Ok(password.to_owned())
    } else {
        hash_password(password)
    }
}

fn verify(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Verified when the name is unknown, so that the answer takes as long.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_text(16)).expect("hashing a random password"))
}

/// `len` characters from a 64-letter alphabet, from the OS's CSPRNG.
pub fn random_text(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes.iter().map(|b| ALPHABET[usize::from(b & 63)] as char).collect()
}

/// Every dashboard user, from the config file and the database.
pub struct Users {
    configured: Vec<StoredUser>,
    accounts: Arc<dyn Accounts>,
    site_keys: Vec<String>,
}

impl Users {
    /// Reads the config's users (hashing plain-text passwords).
    pub fn open(config: &Config, accounts: Arc<dyn Accounts>) -> Result<Users, UserError> {
        let d = &config.dashboard;
        let mut configured = Vec::new();
        if let Some(password) = d.admin_password.as_deref().filter(|p| !p.is_empty()) {
            configured.push(StoredUser { name: ADMIN.into(), password_hash: hash_configured(password)?, role: Role::Admin, sites: Sites::All });
        }
        for user in &d.users {
            configured.push(StoredUser {
                name: user.name.clone(),
                password_hash: hash_configured(&user.password)?,
                role: user.role,
                sites: user.sites.clone(),
            });
        }
        let stored = accounts.users()?;
        for shadowed in stored.iter().filter(|s| configured.iter().any(|c| c.name == s.name)) {
            tracing::warn!(user = %shadowed.name, "a user in the database has the name of one in the config file; the file's is used");
        }
        Ok(Users { configured, accounts, site_keys: config.sites.iter().map(|s| s.key.clone()).collect() })
    }

    /// As the collector starts: when no admin exists anywhere, generates
    /// the `admin` password (until the next start) and prints it.
    pub fn open_for_serving(config: &Config, accounts: Arc<dyn Accounts>) -> Result<Users, UserError> {
        let mut users = Users::open(config, accounts)?;
        let any_admin = users.configured.iter().chain(&users.accounts.users()?).any(|u| u.role == Role::Admin);
        if !any_admin {
            let generated = random_text(16);
            // Printed once, like other self-hosted tools do: the operator
            // reads it from the log of the first start.
            println!("waymark dashboard password for user \"admin\" (generated; set {PASSWORD_ENV} to choose one): {generated}");
            let admin = StoredUser { name: ADMIN.into(), password_hash: hash_password(&generated)?, role: Role::Admin, sites: Sites::All };
            users.configured.push(admin);
        }
        Ok(users)
    }

    fn configured(&self, name: &str) -> Option<&StoredUser> {
        self.configured.iter().find(|u| u.name == name)
    }

    /// The user of this name, wherever defined.
    pub fn find(&self, name: &str) -> Result<Option<StoredUser>, UserError> {
        match self.configured(name) {
            Some(user) => Ok(Some(user.clone())),
            None => Ok(self.accounts.user(name)?),
        }
    }

    /// The user, if the password is theirs. Slow on purpose (Argon2): run
    /// it off the async threads.
    pub fn check_password(&self, name: &str, password: &str) -> Result<Option<StoredUser>, UserError> {
        match self.find(name)? {
            Some(user) if verify(password, &user.password_hash) => Ok(Some(user)),
            Some(_) => Ok(None),
            None => {
                verify(password, decoy_hash());
                Ok(None)
            }
        }
    }

    pub fn list(&self) -> Result<Vec<UserInfo>, UserError> {
        let info = |u: &StoredUser, source| UserInfo { name: u.name.clone(), role: u.role, sites: u.sites.clone(), source };
        let mut all: Vec<UserInfo> = self.configured.iter().map(|u| info(u, Source::Config)).collect();
        for user in self.accounts.users()? {
            if self.configured(&user.name).is_none() {
                all.push(info(&user, Source::Database));
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    fn check_sites(&self, sites: &Sites) -> Result<(), UserError> {
        check_sites(sites, &self.site_keys.iter().map(String::as_str).collect::<Vec<_>>()).map_err(UserError::Invalid)
    }

    /// Adds a user to the database.
    pub fn add(&self, name: &str, password: &str, role: Role, sites: Sites, now_ms: i64) -> Result<UserInfo, UserError> {
        check_name(name).map_err(UserError::Invalid)?;
        check_new_password(password)?;
        self.check_sites(&sites)?;
        if self.configured(name).is_some() {
            return Err(UserError::Exists(name.to_owned()));
        }
        let user = StoredUser { name: name.to_owned(), password_hash: hash_password(password)?, role, sites };
        if !self.accounts.add_user(&user, now_ms)? {
            return Err(UserError::Exists(name.to_owned()));
        }
        Ok(UserInfo { name: user.name, role: user.role, sites: user.sites, source: Source::Database })
    }

    /// Changes a database user's role, sites or password (a new password
    /// signs them out everywhere).
    pub fn change(&self, name: &str, change: Change) -> Result<UserInfo, UserError> {
        if self.configured(name).is_some() {
            return Err(UserError::InConfig(name.to_owned()));
        }
        let mut user = self.accounts.user(name)?.ok_or_else(|| UserError::Unknown(name.to_owned()))?;
        if let Some(sites) = change.sites {
            self.check_sites(&sites)?;
            user.sites = sites;
        }
        if let Some(role) = change.role {
            user.role = role;
        }
        if let Some(password) = change.password {
            check_new_password(&password)?;
            user.password_hash = hash_password(&password)?;
        }
        if !self.accounts.update_user(&user)? {
            return Err(UserError::Unknown(name.to_owned()));
        }
        Ok(UserInfo { name: user.name, role: user.role, sites: user.sites, source: Source::Database })
    }

    /// Removes a database user and ends their sessions.
    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        if self.configured(name).is_some() {
            return Err(UserError::InConfig(name.to_owned()));
        }
        if self.accounts.remove_user(name)? { Ok(()) } else { Err(UserError::Unknown(name.to_owned())) }
    }

    pub fn accounts(&self) -> &Arc<dyn Accounts> {
        &self.accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;
    use crate::store::sqlite::SqliteAccounts;

    fn users(config: &Config, dir: &std::path::Path) -> Users {
        Users::open_for_serving(config, Arc::new(SqliteAccounts::open_in(dir).unwrap())).unwrap()
    }

    fn config() -> Config {
        let mut config = Config::demo("127.0.0.1:0".parse().unwrap(), "data".into());
        config.dashboard.admin_password = Some("the admin password".into());
        config.dashboard.users.push(UserConfig {
            name: "cfg".into(),
            password: "cfg password".into(),
            role: Role::Viewer,
            sites: Sites::All,
        });
        config
    }

    #[test]
    fn the_admin_password_is_the_user_admin_and_config_users_are_changed_only_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let users = users(&config(), dir.path());
        let admin = users.check_password(ADMIN, "the admin password").unwrap().expect("admin signs in");
        assert_eq!((admin.role, admin.sites), (Role::Admin, Sites::All));
        assert!(users.check_password(ADMIN, "wrong").unwrap().is_none());
        assert!(users.check_password("nobody", "the admin password").unwrap().is_none());
        assert!(matches!(users.remove("cfg"), Err(UserError::InConfig(_))));
        assert!(matches!(users.change("cfg", Change::default()), Err(UserError::InConfig(_))));
        assert!(matches!(users.add("cfg", "long enough pw", Role::Viewer, Sites::All, 0), Err(UserError::Exists(_))));
    }

    #[test]
    fn a_user_added_is_checked_listed_and_signs_in_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let users = users(&config(), dir.path());
        let demo_only = Sites::Only(vec!["demo".into()]);
        assert!(matches!(users.add("ana", "short", Role::Viewer, demo_only.clone(), 0), Err(UserError::Invalid(_))));
        let err = users.add("ana", "long enough pw", Role::Viewer, Sites::Only(vec!["nope".into()]), 0).unwrap_err();
        assert!(err.to_string().contains("\"nope\""), "{err}");
        users.add("ana", "long enough pw", Role::Viewer, demo_only.clone(), 0).unwrap();
        assert!(matches!(users.add("ana", "long enough pw", Role::Admin, Sites::All, 0), Err(UserError::Exists(_))));
        let names: Vec<_> = users.list().unwrap().into_iter().map(|u| (u.name, u.source)).collect();
        assert_eq!(names, [("admin".into(), Source::Config), ("ana".into(), Source::Database), ("cfg".into(), Source::Config)]);
        assert_eq!(users.check_password("ana", "long enough pw").unwrap().unwrap().sites, demo_only);
        users.change("ana", Change { password: Some("another long one".into()), ..Change::default() }).unwrap();
        assert!(users.check_password("ana", "long enough pw").unwrap().is_none());
        users.remove("ana").unwrap();
        assert!(users.find("ana").unwrap().is_none());
    }

    #[test]
    fn without_any_admin_one_is_generated_and_with_a_stored_admin_none_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::demo("127.0.0.1:0".parse().unwrap(), "data".into());
        let first = users(&config, dir.path());
        assert!(first.find(ADMIN).unwrap().is_some(), "a generated admin");
        first.add("boss", "long enough pw", Role::Admin, Sites::All, 0).unwrap();
        config.dashboard.api_tokens.clear();
        let second = users(&config, dir.path());
        assert!(second.find(ADMIN).unwrap().is_none(), "an admin exists: nothing generated");
    }
}
