//! Erasure of one person (by visitor id, user id or session id) or of a
//! whole site, on request: through `POST /api/lifecycle/erase` or
//! `waymark erase`.
//!
//! Policy:
//! - a request names exactly one selector, with a non-empty id;
//! - everything of that person goes: every event and session of each
//!   visitor the selector names (a user id: every visitor linked to it),
//!   subtracted from the aggregates; nothing is recomputed from them, and
//!   the store forgets what it remembered of those visitors, so nothing
//!   resurrects them (a later event of the same browser starts afresh);
//! - erasing again removes nothing; each request is recorded anyway (the
//!   audit log is of requests), with the rows it removed;
//! - who asked is a name for the requester (a dashboard user, "cli", a
//!   token's label), never the person's id.

use crate::store::lifecycle::{Erased, Selector};
use crate::store::{Store, StoreError};

/// Who asked, when the command line did.
pub const CLI: &str = "cli";

/// The one selector a request gives: exactly one of a visitor id, a user
/// id, a session id, or the whole site. The error says what to send.
pub fn selector(visitor: Option<&str>, user: Option<&str>, session: Option<&str>, all: bool) -> Result<Selector, String> {
    let given: Vec<Selector> = [
        visitor.map(|v| Selector::Visitor(v.to_owned())),
        user.map(|u| Selector::User(u.to_owned())),
        session.map(|s| Selector::Session(s.to_owned())),
        all.then_some(Selector::Site),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.as_slice() {
        [Selector::Visitor(id) | Selector::User(id) | Selector::Session(id)] if id.trim().is_empty() => {
            Err("the id is empty".into())
        }
        [one] => Ok(one.clone()),
        [] => Err("name whom: one of `visitor`, `user`, `session` or `all`".into()),
        _ => Err("name one of `visitor`, `user`, `session` or `all`, not several".into()),
    }
}

/// Erases what `selector` names on `site` and records it, at `now_ms`.
pub async fn erase(store: &dyn Store, site: &str, selector: &Selector, requested_by: &str, now_ms: i64) -> Result<Erased, StoreError> {
    let erased = store.erase(site, selector, now_ms, requested_by).await?;
    tracing::info!(site, kind = selector.kind().as_str(), rows = erased.rows(), requested_by, "erased");
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_exactly_one_person_or_the_site() {
        assert_eq!(selector(Some("v1"), None, None, false), Ok(Selector::Visitor("v1".into())));
        assert_eq!(selector(None, Some("u1"), None, false), Ok(Selector::User("u1".into())));
        assert_eq!(selector(None, None, Some("s1"), false), Ok(Selector::Session("s1".into())));
        assert_eq!(selector(None, None, None, true), Ok(Selector::Site));
        assert!(selector(None, None, None, false).unwrap_err().contains("name whom"));
        assert!(selector(Some("v1"), None, None, true).unwrap_err().contains("not several"));
        assert!(selector(Some(" "), None, None, false).unwrap_err().contains("empty"));
    }
}
