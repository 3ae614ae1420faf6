//! [`Accounts`] on ClickHouse: dashboard users and sign-in sessions in the
//! store's database, through a client and runtime of their own (not the
//! event writer's: see [`crate::store::accounts`]).
//!
//! Mechanism: both tables are `ReplacingMergeTree(version)`; a change is a
//! new version, a removal (a user removed, a session ended or expired) a
//! tombstone, and reads go through `FINAL`. ClickHouse has no transaction
//! for "add unless taken": two collectors adding the same name at the same
//! moment would both succeed, the later version winning. Sessions are
//! stored as their token's hash only, as on SQLite.

use super::client::{Connection, lit};
use super::db::Db;
use super::rows::Versions;
use super::{Client, schema};
use crate::access::Role;
use crate::store::StoreError;
use crate::store::accounts::{Accounts, StoredUser, TokenHash};

pub struct ClickhouseAccounts {
    db: Db,
    versions: std::sync::Mutex<Versions>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct UserRow {
    name: String,
    password_hash: String,
    role: String,
    sites: String,
    #[serde(skip_deserializing)]
    version: u64,
    #[serde(skip_deserializing)]
    deleted: u8,
}

#[derive(serde::Deserialize)]
struct SessionUser {
    user: String,
}

const LIVE_USERS: &str = "dashboard_users FINAL WHERE deleted = 0";
const LIVE_SIGN_INS: &str = "dashboard_sessions FINAL WHERE deleted = 0";

fn hex(token: TokenHash) -> String {
    token.0.iter().map(|b| format!("{b:02x}")).collect()
}

impl ClickhouseAccounts {
    /// Connects and migrates (as `waymark users` does, with or without a
    /// running collector). Blocks: call it off the async runtime's threads.
    pub fn open(connection: Connection) -> Result<ClickhouseAccounts, StoreError> {
        let db = Db::new(Client::new(connection)).map_err(|e| StoreError::Backend(format!("the accounts' runtime: {e}")))?;
        db.block_on(schema::migrate(db.client())).map_err(|e| match e {
            schema::SchemaError::Client(c) => StoreError::from(c),
            newer => StoreError::Backend(newer.to_string()),
        })?;
        Ok(ClickhouseAccounts { db, versions: std::sync::Mutex::new(Versions::default()) })
    }

    fn version(&self) -> u64 {
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).next()
    }

    fn write_user(&self, user: &StoredUser, deleted: bool) -> Result<(), StoreError> {
        let row = UserRow {
            name: user.name.clone(),
            password_hash: user.password_hash.clone(),
            role: user.role.name().to_owned(),
            sites: serde_json::to_string(&user.sites).expect("site keys serialize"),
            version: self.version(),
            deleted: u8::from(deleted),
        };
        self.db.insert("dashboard_users", &[row])
    }

    /// Ends the sign-ins `condition` matches, by a tombstone each.
    fn end_sessions(&self, condition: &str) -> Result<(), StoreError> {
        self.db.execute(&format!(
            "INSERT INTO dashboard_sessions (token_hash, user, expires_ms, version, deleted)
             SELECT token_hash, user, expires_ms, {}, 1 FROM {LIVE_SIGN_INS} AND {condition}",
            self.version()
        ))
    }
}

fn user_from_row(row: UserRow) -> Result<StoredUser, StoreError> {
    let invalid = |e: String| StoreError::Backend(format!("dashboard user {:?}: {e}", row.name));
    Ok(StoredUser {
        role: Role::parse(&row.role).map_err(invalid)?,
        sites: serde_json::from_str(&row.sites).map_err(|e| invalid(e.to_string()))?,
        name: row.name,
        password_hash: row.password_hash,
    })
}

impl Accounts for ClickhouseAccounts {
    fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        let rows: Vec<UserRow> = self.db.rows(&format!("SELECT name, password_hash, role, sites FROM {LIVE_USERS} ORDER BY name"))?;
        rows.into_iter().map(user_from_row).collect()
    }

    fn user(&self, name: &str) -> Result<Option<StoredUser>, StoreError> {
        let rows: Vec<UserRow> =
            self.db.rows(&format!("SELECT name, password_hash, role, sites FROM {LIVE_USERS} AND name = {}", lit(name)))?;
        rows.into_iter().next().map(user_from_row).transpose()
    }

    fn add_user(&self, user: &StoredUser, _now_ms: i64) -> Result<bool, StoreError> {
        if self.user(&user.name)?.is_some() {
            return Ok(false);
        }
        self.end_sessions(&format!("user = {}", lit(&user.name)))?;
        self.write_user(user, false)?;
        Ok(true)
    }

    fn update_user(&self, user: &StoredUser) -> Result<bool, StoreError> {
        let Some(old) = self.user(&user.name)? else {
            return Ok(false);
        };
        self.write_user(user, false)?;
        if old.password_hash != user.password_hash {
            self.end_sessions(&format!("user = {}", lit(&user.name)))?;
        }
        Ok(true)
    }

    fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let Some(old) = self.user(name)? else {
            self.end_sessions(&format!("user = {}", lit(name)))?;
            return Ok(false);
        };
        self.write_user(&old, true)?;
        self.end_sessions(&format!("user = {}", lit(name)))?;
        Ok(true)
    }

    fn start_session(&self, token: TokenHash, user: &str, now_ms: i64, expires_ms: i64) -> Result<(), StoreError> {
        self.end_sessions(&format!("expires_ms <= {now_ms}"))?;
        self.db.execute(&format!(
            "INSERT INTO dashboard_sessions (token_hash, user, expires_ms, version, deleted) VALUES ({}, {}, {expires_ms}, {}, 0)",
            lit(&hex(token)),
            lit(user),
            self.version()
        ))
    }

    fn session_user(&self, token: TokenHash, now_ms: i64) -> Result<Option<String>, StoreError> {
        let rows: Vec<SessionUser> =
            self.db.rows(&format!("SELECT user FROM {LIVE_SIGN_INS} AND token_hash = {} AND expires_ms > {now_ms}", lit(&hex(token))))?;
        Ok(rows.into_iter().next().map(|r| r.user))
    }

    fn end_session(&self, token: TokenHash) -> Result<(), StoreError> {
        self.end_sessions(&format!("token_hash = {}", lit(&hex(token))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Sites;
    use crate::store::clickhouse::test_server;

    fn user(name: &str, hash: &str) -> StoredUser {
        StoredUser { name: name.into(), password_hash: hash.into(), role: Role::Viewer, sites: Sites::Only(vec!["shop".into()]) }
    }

    #[test]
    fn users_and_sign_ins_outlive_the_client_and_end_with_a_new_password_or_a_removal() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let accounts = ClickhouseAccounts::open(crate::store::clickhouse::test_connection(dir.path())).unwrap();
        assert!(accounts.add_user(&user("ana", "$argon2id$a"), 0).unwrap());
        assert!(!accounts.add_user(&user("ana", "$argon2id$b"), 0).unwrap(), "a name is taken once");
        accounts.start_session(TokenHash::of("cookie-token"), "ana", 0, 1_000).unwrap();
        drop(accounts);

        let accounts = ClickhouseAccounts::open(crate::store::clickhouse::test_connection(dir.path())).unwrap();
        assert_eq!(accounts.users().unwrap(), vec![user("ana", "$argon2id$a")]);
        let token = TokenHash::of("cookie-token");
        assert_eq!(accounts.session_user(token, 999).unwrap().as_deref(), Some("ana"));
        assert_eq!(accounts.session_user(token, 1_000).unwrap(), None, "expired");

        let viewer_of_more = StoredUser { sites: Sites::All, ..user("ana", "$argon2id$a") };
        assert!(accounts.update_user(&viewer_of_more).unwrap());
        assert_eq!(accounts.session_user(token, 999).unwrap().as_deref(), Some("ana"), "a role change keeps the sign-in");
        assert!(accounts.update_user(&user("ana", "$argon2id$new")).unwrap());
        assert_eq!(accounts.session_user(token, 999).unwrap(), None, "a new password ends it");

        accounts.start_session(TokenHash::of("second"), "ana", 0, 1_000).unwrap();
        assert!(accounts.remove_user("ana").unwrap());
        assert!(!accounts.remove_user("ana").unwrap());
        assert_eq!((accounts.users().unwrap(), accounts.session_user(TokenHash::of("second"), 1).unwrap()), (vec![], None));
        accounts.start_session(TokenHash::of("third"), "ben", 0, 1_000).unwrap();
        accounts.end_session(TokenHash::of("third")).unwrap();
        assert_eq!(accounts.session_user(TokenHash::of("third"), 1).unwrap(), None);
    }
}
