//! [`Accounts`] on the same SQLite file as the events, through a
//! connection of its own (see [`crate::store::accounts`] for why not the
//! writer's). Each call is one short transaction; while the writer holds
//! the write lock, SQLite's busy timeout (set in [`super::connection`])
//! waits for it, which is milliseconds. One connection behind a mutex:
//! dashboard requests are few, and each holds it for one indexed lookup.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::connection::{migrate, open_connection};
use crate::access::{Role, Sites};
use crate::store::StoreError;
use crate::store::accounts::{Accounts, StoredUser, TokenHash};

pub struct SqliteAccounts {
    conn: Mutex<Connection>,
}

impl SqliteAccounts {
    /// Opens (creating and migrating if needed) the database in `data_dir`,
    /// as `waymark users` does, with or without a running collector.
    pub fn open_in(data_dir: &Path) -> Result<SqliteAccounts, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.display().to_string(), source })?;
        let mut conn = open_connection(&data_dir.join("waymark.db"))?;
        migrate(&mut conn)?;
        Ok(SqliteAccounts { conn: Mutex::new(conn) })
    }

    /// A connection to an already migrated database file.
    pub(super) fn open_migrated(path: &Path) -> Result<SqliteAccounts, StoreError> {
        Ok(SqliteAccounts { conn: Mutex::new(open_connection(path)?) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&mut conn)?)
    }
}

fn sites_text(sites: &Sites) -> String {
    serde_json::to_string(sites).expect("site keys serialize")
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredUser> {
    let text = |i: usize| row.get::<_, String>(i);
    let invalid = |i: usize, e: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into());
    Ok(StoredUser {
        name: text(0)?,
        password_hash: text(1)?,
        role: Role::parse(&text(2)?).map_err(|e| invalid(2, e))?,
        sites: serde_json::from_str(&text(3)?).map_err(|e| invalid(3, e.to_string()))?,
    })
}

const USER_COLUMNS: &str = "name, password_hash, role, sites";

impl Accounts for SqliteAccounts {
    fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM dashboard_users ORDER BY name"))?
                .query_map([], user_from_row)?
                .collect()
        })
    }

    fn user(&self, name: &str) -> Result<Option<StoredUser>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE name = ?1"))?
                .query_row([name], user_from_row)
                .optional()
        })
    }

    fn add_user(&self, user: &StoredUser, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let added = tx.execute(
                "INSERT INTO dashboard_users (name, password_hash, role, sites, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO NOTHING",
                params![user.name, user.password_hash, user.role.name(), sites_text(&user.sites), now_ms],
            )? == 1;
            if added {
                tx.execute("DELETE FROM dashboard_sessions WHERE user_name = ?1", [&user.name])?;
            }
            tx.commit()?;
            Ok(added)
        })
    }

    fn update_user(&self, user: &StoredUser) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let old: Option<String> = tx
                .query_row("SELECT password_hash FROM dashboard_users WHERE name = ?1", [&user.name], |r| r.get(0))
                .optional()?;
            let Some(old) = old else { return Ok(false) };
            tx.execute(
                "UPDATE dashboard_users SET password_hash = ?2, role = ?3, sites = ?4 WHERE name = ?1",
                params![user.name, user.password_hash, user.role.name(), sites_text(&user.sites)],
            )?;
            if old != user.password_hash {
                tx.execute("DELETE FROM dashboard_sessions WHERE user_name = ?1", [&user.name])?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let removed = tx.execute("DELETE FROM dashboard_users WHERE name = ?1", [name])? == 1;
            tx.execute("DELETE FROM dashboard_sessions WHERE user_name = ?1", [name])?;
            tx.commit()?;
            Ok(removed)
        })
    }

    fn start_session(&self, token: TokenHash, user: &str, now_ms: i64, expires_ms: i64) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM dashboard_sessions WHERE expires_ms <= ?1", [now_ms])?;
            tx.execute(
                "INSERT INTO dashboard_sessions (token_hash, user_name, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                params![&token.0[..], user, now_ms, expires_ms],
            )?;
            tx.commit()
        })
    }

    fn session_user(&self, token: TokenHash, now_ms: i64) -> Result<Option<String>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT user_name FROM dashboard_sessions WHERE token_hash = ?1 AND expires_ms > ?2")?
                .query_row(params![&token.0[..], now_ms], |r| r.get(0))
                .optional()
        })
    }

    fn end_session(&self, token: TokenHash) -> Result<(), StoreError> {
        self.with(|conn| conn.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?1", [&token.0[..]]).map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, hash: &str) -> StoredUser {
        StoredUser { name: name.into(), password_hash: hash.into(), role: Role::Viewer, sites: Sites::Only(vec!["shop".into()]) }
    }

    #[test]
    fn users_and_sessions_outlive_the_connection_and_sessions_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = SqliteAccounts::open_in(dir.path()).unwrap();
        assert!(accounts.add_user(&user("ana", "$argon2id$a"), 0).unwrap());
        assert!(!accounts.add_user(&user("ana", "$argon2id$b"), 0).unwrap(), "a name is taken once");
        accounts.start_session(TokenHash::of("cookie-token"), "ana", 0, 1_000).unwrap();
        drop(accounts);

        let accounts = SqliteAccounts::open_in(dir.path()).unwrap();
        assert_eq!(accounts.users().unwrap(), vec![user("ana", "$argon2id$a")]);
        assert_eq!(accounts.session_user(TokenHash::of("cookie-token"), 999).unwrap().as_deref(), Some("ana"));
        assert_eq!(accounts.session_user(TokenHash::of("cookie-token"), 1_000).unwrap(), None, "expired");
        let stored: Vec<u8> =
            accounts.with(|c| c.query_row("SELECT token_hash FROM dashboard_sessions", [], |r| r.get(0))).unwrap();
        assert_eq!(stored, blake3::hash(b"cookie-token").as_bytes().to_vec());
    }

    #[test]
    fn a_new_password_or_a_removal_ends_the_users_sessions_and_a_role_change_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = SqliteAccounts::open_in(dir.path()).unwrap();
        accounts.add_user(&user("ana", "$argon2id$a"), 0).unwrap();
        let token = TokenHash::of("t");
        accounts.start_session(token, "ana", 0, 1_000).unwrap();
        assert!(accounts.update_user(&StoredUser { role: Role::Admin, ..user("ana", "$argon2id$a") }).unwrap());
        assert_eq!(accounts.session_user(token, 1).unwrap().as_deref(), Some("ana"));
        assert!(accounts.update_user(&user("ana", "$argon2id$new")).unwrap());
        assert_eq!(accounts.session_user(token, 1).unwrap(), None);
        accounts.start_session(token, "ana", 0, 1_000).unwrap();
        assert!(accounts.remove_user("ana").unwrap());
        assert_eq!(accounts.session_user(token, 1).unwrap(), None);
        assert!(!accounts.remove_user("ana").unwrap());
        assert!(!accounts.update_user(&user("bo", "x")).unwrap());
    }
}
