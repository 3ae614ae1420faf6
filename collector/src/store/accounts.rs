//! The accounts seam: dashboard users added at run time (by `waymark users`
//! or an admin in the dashboard) and dashboard sign-in sessions, persisted
//! so that both survive a restart.
//!
//! Policy kept by every backend: a session is stored only as the hash of
//! its token (the cookie holds the token; a copy of the database signs no
//! one in), with its expiry; a password only as its Argon2id PHC string.
//! Which users exist, what they may see and how long a session lives are
//! decided in [`crate::users`] and [`crate::api::auth`]; a backend stores
//! and answers.
//!
//! Mechanism: sign-ins are rare and must not queue behind ingest, so a
//! backend serves these from a connection of its own (short transactions),
//! not through the event writer. The calls block: callers on async threads
//! run them with `spawn_blocking`.

use crate::access::{Role, Sites};
use crate::store::StoreError;

/// A user stored in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub name: String,
    /// PHC string, `$argon2id$…`.
    pub password_hash: String,
    pub role: Role,
    pub sites: Sites,
}

/// The BLAKE3 hash of a session token: what is stored instead of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        TokenHash(*blake3::hash(token.as_bytes()).as_bytes())
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(hidden)")
    }
}

pub trait Accounts: Send + Sync {
    /// Every stored user, by name.
    fn users(&self) -> Result<Vec<StoredUser>, StoreError>;

    fn user(&self, name: &str) -> Result<Option<StoredUser>, StoreError>;

    /// Adds a user; false (and nothing written) when the name is taken.
    /// Sessions left under the name (a user of that name removed from the
    /// config file) are ended first: they were not this user's.
    fn add_user(&self, user: &StoredUser, now_ms: i64) -> Result<bool, StoreError>;

    /// Replaces a stored user's password, role and sites; false when there
    /// is no such user. A new password ends the user's sessions.
    fn update_user(&self, user: &StoredUser) -> Result<bool, StoreError>;

    /// Removes a user and ends their sessions; false when there was none.
    fn remove_user(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a session of `user` until `expires_ms`; expired sessions
    /// are deleted on the way.
    fn start_session(&self, token: TokenHash, user: &str, now_ms: i64, expires_ms: i64) -> Result<(), StoreError>;

    /// The user a session belongs to, if it exists and has not expired.
    fn session_user(&self, token: TokenHash, now_ms: i64) -> Result<Option<String>, StoreError>;

    fn end_session(&self, token: TokenHash) -> Result<(), StoreError>;
}
