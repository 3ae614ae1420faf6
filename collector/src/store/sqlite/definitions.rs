//! [`Definitions`] on the same SQLite file as the events, through a
//! connection of its own, as the accounts are (see `sqlite::accounts`).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::connection::open_connection;
use crate::store::StoreError;
use crate::store::definitions::{Definition, Definitions, Kind};

pub struct SqliteDefinitions {
    conn: Mutex<Connection>,
}

impl SqliteDefinitions {
    /// A connection to the store's database in `data_dir`, migrated by the store.
    pub fn open_in(data_dir: &Path) -> Result<SqliteDefinitions, StoreError> {
        Ok(SqliteDefinitions { conn: Mutex::new(open_connection(&data_dir.join("waymark.db"))?) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&conn)?)
    }
}

fn from_row(kind: Kind) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Definition> {
    move |r| Ok(Definition { site: r.get(0)?, kind, id: r.get(1)?, name: r.get(2)?, body: r.get(3)?, updated_ms: r.get(4)? })
}

impl Definitions for SqliteDefinitions {
    fn list(&self, site: &str, kind: Kind) -> Result<Vec<Definition>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT site, id, name, body, updated_ms FROM definitions WHERE site = ?1 AND kind = ?2 ORDER BY name, id")?
                .query_map(params![site, kind.name()], from_row(kind))?
                .collect()
        })
    }

    fn get(&self, site: &str, kind: Kind, id: &str) -> Result<Option<Definition>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT site, id, name, body, updated_ms FROM definitions WHERE site = ?1 AND kind = ?2 AND id = ?3")?
                .query_row(params![site, kind.name(), id], from_row(kind))
                .optional()
        })
    }

    fn put(&self, d: &Definition) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO definitions (site, kind, id, name, body, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (site, kind, id) DO UPDATE SET name = excluded.name, body = excluded.body, updated_ms = excluded.updated_ms",
            )?
            .execute(params![d.site, d.kind.name(), d.id, d.name, d.body, d.updated_ms])
            .map(drop)
        })
    }

    fn delete(&self, site: &str, kind: Kind, id: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            Ok(conn.prepare_cached("DELETE FROM definitions WHERE site = ?1 AND kind = ?2 AND id = ?3")?.execute(params![site, kind.name(), id])? > 0)
        })
    }
}
