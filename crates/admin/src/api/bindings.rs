//! The location service: listing (one AOR, or page by page with a
//! search) and removal of an AOR's bindings or of one contact, as a
//! compare-and-set on the AOR like a REGISTER's, announced to the live
//! feeds.

use crate::api::tags;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::Shared;
use crate::store_call::{call, store_error};
use axum::extract::State;
use axum::{Extension, Json};
use location_model::{Binding, ListQuery, Snapshot, Written};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sip_message::Uri;
use utoipa::{IntoParams, ToSchema};

/// Most AORs on one page.
pub(crate) const MAX_LIMIT: usize = 1000;

/// AORs on a page unless the query says.
const DEFAULT_LIMIT: usize = 100;

/// Longest search text.
const MAX_SEARCH: usize = 256;

/// How often a delete is tried again when a REGISTER changed the AOR
/// between its read and its write.
const CAS_TRIES: usize = 8;

/// One binding as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BindingView {
    /// The address-of-record.
    #[schema(example = "sip:alice@example.com")]
    aor: String,
    /// The contact URI as registered.
    #[schema(example = "sip:alice@192.0.2.4:5062")]
    contact: String,
    /// The q-value, 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    q: f64,
    /// Seconds left until it expires.
    expires: u64,
    /// When it expires (Unix ms).
    expires_at: u64,
    /// The Call-ID of the REGISTER that last refreshed it.
    call_id: String,
    /// That REGISTER's CSeq number.
    cseq: u32,
    /// The source `ip:port` that REGISTER came from.
    received: Option<String>,
    /// The transport it came over (`udp`, `tcp`).
    transport: String,
    /// The local socket `ip:port` it arrived on.
    local: Option<String>,
    /// Its User-Agent.
    user_agent: Option<String>,
    /// Its Path header values, in order.
    path: Vec<String>,
    /// Its `+sip.instance`.
    instance: Option<String>,
    /// Its `reg-id`.
    reg_id: Option<u32>,
    /// When it was last written (Unix ms).
    updated_at: u64,
}

impl BindingView {
    /// `b` as seen at `now_ms`.
    pub(crate) fn of(b: &Binding, now_ms: u64) -> BindingView {
        BindingView {
            aor: b.aor.clone(),
            contact: b.contact.clone(),
            q: f64::from(b.q.min(1000)) / 1000.0,
            expires: b.expires_at_ms.saturating_sub(now_ms).div_ceil(1000),
            expires_at: b.expires_at_ms,
            call_id: b.call_id.clone(),
            cseq: b.cseq,
            received: b.received.clone(),
            transport: b.transport.clone(),
            local: b.local.clone(),
            user_agent: b.user_agent.clone(),
            path: b.path.clone(),
            instance: b.instance.clone(),
            reg_id: b.reg_id,
            updated_at: b.updated_at_ms,
        }
    }

    /// Every binding of `bindings` as seen at `now_ms`.
    pub(crate) fn all(bindings: &[Binding], now_ms: u64) -> Vec<BindingView> {
        bindings
            .iter()
            .map(|b| BindingView::of(b, now_ms))
            .collect()
    }
}

/// A page of bindings.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BindingsPage {
    /// The bindings, each AOR's together.
    bindings: Vec<BindingView>,
    /// The cursor of the next page; `null` when the listing is complete.
    /// A page may hold fewer AORs than the limit (even none) and still
    /// have a next one.
    next_cursor: Option<String>,
}

/// What to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Exactly this AOR's bindings (no paging; `search` and `cursor` are
    /// then ignored). A SIP or SIPS URI; anything else is 422.
    #[param(example = "sip:alice@example.com", pattern = "^sips?:")]
    aor: Option<String>,
    /// Only bindings whose AOR, contact or User-Agent contains this (ASCII
    /// case ignored).
    #[param(max_length = 256)]
    search: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Most AORs on the page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The canonical AOR of `raw` (as the registrar keys it), or 422.
fn canonical_aor(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::unprocessable(format!("not a SIP URI: {:?}", raw));
    match Uri::parse(raw) {
        Ok(Uri::Sip(u)) => u.canonical_aor().ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// True when `registered` is the contact `wanted` names (the same text,
/// or an equivalent URI by RFC 3261 §19.1.4).
fn same_contact(registered: &str, wanted: &str, wanted_uri: &Uri<'_>) -> bool {
    registered == wanted || Uri::parse(registered).is_ok_and(|u| u.equivalent(wanted_uri))
}

/// Lists bindings: one AOR's, or a page of all (optionally searched).
#[utoipa::path(get, path = "/api/v1/bindings", tag = tags::BINDINGS, params(ListParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The bindings", body = BindingsPage),
        (status = 400, description = "A bad query or cursor", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 422, description = "`aor` is not a SIP URI", body = ErrorBody),
        (status = 503, description = "The location store cannot answer", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(app): State<Shared>,
    Query(q): Query<ListParams>,
) -> Result<Json<BindingsPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}"
        )));
    }
    if q.search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH)
    {
        return Err(ApiError::bad_request(format!(
            "search is longer than {MAX_SEARCH} characters"
        )));
    }
    let store = app.ctx.node.store().clone();
    let now = crate::clock::now_ms();
    if let Some(raw) = &q.aor {
        let aor = canonical_aor(raw)?;
        let snap = call(|done| store.fetch(&aor, now, done))
            .await?
            .map_err(store_error)?;
        return Ok(Json(BindingsPage {
            bindings: BindingView::all(&snap.bindings, now),
            next_cursor: None,
        }));
    }
    let query = ListQuery {
        cursor: q.cursor,
        limit,
        search: q.search.filter(|s| !s.is_empty()),
    };
    let page = call(|done| store.list(&query, now, done))
        .await?
        .map_err(store_error)?;
    Ok(Json(BindingsPage {
        bindings: BindingView::all(&page.bindings, now),
        next_cursor: page.next,
    }))
}

/// The AOR of a delete.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AorPath {
    /// The AOR, percent-encoded (`sip%3Aalice%40example.com`): a SIP or
    /// SIPS URI; anything else is 422.
    #[param(example = "sip:alice@example.com", pattern = "^sips?:")]
    aor: String,
}

/// Which of the AOR's bindings to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteParams {
    /// Only this contact (else every binding of the AOR).
    #[param(example = "sip:alice@192.0.2.4:5062")]
    contact: Option<String>,
}

/// How many bindings a delete removed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Removed {
    /// Bindings removed.
    removed: usize,
}

/// Removes an AOR's bindings, or one of its contacts.
#[utoipa::path(delete, path = "/api/v1/bindings/{aor}", tag = tags::BINDINGS,
    params(AorPath, DeleteParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 400, description = "A bad query or path", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
        (status = 404, description = "The AOR has no bindings, or not that contact", body = ErrorBody),
        (status = 422, description = "The AOR or contact is not a URI", body = ErrorBody),
        (status = 503, description = "The location store cannot answer, or the AOR kept changing", body = ErrorBody),
    ))]
pub(crate) async fn delete(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<AorPath>,
    Query(q): Query<DeleteParams>,
) -> Result<Json<Removed>, ApiError> {
    let aor = canonical_aor(&path.aor)?;
    let contact = match &q.contact {
        Some(c) => {
            let uri =
                Uri::parse(c).map_err(|_| ApiError::unprocessable(format!("not a URI: {c:?}")))?;
            Some((c.as_str(), uri))
        }
        None => None,
    };
    let outcome = remove(&app, &aor, contact.as_ref().map(|(c, u)| (*c, u))).await;
    let detail = json!({ "contact": q.contact, "removed": outcome.as_ref().ok() });
    let logged = outcome.as_ref().map(|_| ()).map_err(ApiError::message);
    app.audit(&caller, "bindings.delete", Some(&aor), detail, logged);
    outcome.map(|removed| Json(Removed { removed }))
}

/// The compare-and-set of a delete: reads the AOR, writes it without the
/// bindings removed if it is still as read, and tries again (on the AOR
/// as it is then) when a REGISTER came first.
async fn remove(
    app: &Shared,
    aor: &str,
    contact: Option<(&str, &Uri<'_>)>,
) -> Result<usize, ApiError> {
    let node = &app.ctx.node;
    let store = node.store().clone();
    let mut snap: Snapshot = call(|done| store.fetch(aor, crate::clock::now_ms(), done))
        .await?
        .map_err(store_error)?;
    for _ in 0..CAS_TRIES {
        let before = snap.bindings.len();
        let keep: Vec<Binding> = snap
            .bindings
            .iter()
            .filter(|b| contact.is_some_and(|(text, uri)| !same_contact(&b.contact, text, uri)))
            .cloned()
            .collect();
        let removed = before - keep.len();
        if removed == 0 {
            return Err(ApiError::not_found(match contact {
                Some((c, _)) => format!("{aor} has no binding of {c}"),
                None => format!("{aor} has no bindings"),
            }));
        }
        let now = crate::clock::now_ms();
        let written = call(|done| store.write(aor, &snap.version, keep.clone(), now, done))
            .await?
            .map_err(store_error)?;
        match written {
            Written::Stored => {
                node.announce(server::Change::Stored {
                    aor: aor.to_owned(),
                    bindings: keep,
                });
                return Ok(removed);
            }
            Written::Conflict(now_is) => snap = now_is,
        }
    }
    Err(ApiError::unavailable(format!(
        "{aor} kept changing while it was being removed; try again"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aors_are_canonical_sip_uris() {
        assert_eq!(
            canonical_aor("sip:alice@EXAMPLE.com;transport=tcp").ok(),
            Some("sip:alice@example.com".to_string())
        );
        assert!(canonical_aor("alice").is_err());
        assert!(canonical_aor("tel:+4930").is_err());
    }

    #[test]
    fn contacts_match_by_text_or_equivalence() {
        let wanted = "sip:a@192.0.2.4:5062";
        let uri = Uri::parse(wanted).expect("uri");
        assert!(same_contact("sip:a@192.0.2.4:5062", wanted, &uri));
        assert!(same_contact("sip:a@192.0.2.4:5062;lr", wanted, &uri));
        assert!(!same_contact("sip:b@192.0.2.4:5062", wanted, &uri));
    }
}
