//! The registrar of RFC 3261 §10.3 as a pure component.
//!
//! [`check_register`] runs the steps that need only the request and the
//! configuration (1, 2, 5, 6 and the expiry checks of 7) and either rejects
//! the request or returns a [`PendingRegister`]. The shell then hands
//! [`PendingRegister::apply`] to the location store, which runs it on the
//! AOR's current bindings as one atomic compare-and-set (the Call-ID/CSeq
//! rule, max contacts and the changes of step 7), and finally builds the
//! 200 OK of step 8 with [`PendingRegister::bindings_response`].

use crate::config::RegistrarConfig;
use crate::context::RequestContext;
use crate::reply::Reply;
use crate::validate::{unsupported_required, Validated};
use location_model::{Binding, ContactAction};
use sip_message::headers::{parse_delta_seconds, parse_qvalue, ContactList};
use sip_message::params::unquote;
use sip_message::{HeaderName, Message, Uri};
use std::borrow::Cow;

/// One contact of a REGISTER, checked and with its expiry decided.
#[derive(Debug, Clone)]
struct ContactOp {
    uri: String,
    q: u16,
    expires: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
    action: Option<ContactAction>,
}

/// What a REGISTER asks of the AOR's bindings.
#[derive(Debug, Clone)]
enum Change {
    /// No Contact: a query.
    Query,
    /// `Contact: *` with `Expires: 0`.
    RemoveAll,
    /// Add, refresh or remove these contacts.
    Contacts(Vec<ContactOp>),
}

/// A REGISTER that passed the request-only checks and now needs the AOR's
/// bindings. It owns everything it needs, so it can be moved into the
/// store's update closure.
#[derive(Debug, Clone)]
pub struct PendingRegister {
    /// The canonical address-of-record (the binding key).
    pub aor: String,
    change: Change,
    /// Every field the request gives each binding alike (Call-ID, CSeq,
    /// source, ...); its AOR is left empty, see `aor`.
    template: Binding,
    max_contacts: usize,
    echo_path: Option<String>,
}

impl PendingRegister {
    /// The host of the AOR, without port: the domain the REGISTER is
    /// authenticated for.
    pub fn aor_domain(&self) -> &str {
        crate::auth::aor_user_host(&self.aor).map_or_else(
            || {
                let rest = self.aor.split_once(':').map_or(&*self.aor, |(_, r)| r);
                crate::auth::strip_port(rest)
            },
            |(_, host)| host,
        )
    }
}

/// Rejects with a reply that names the defect.
fn reject(code: u16, reason: impl Into<Cow<'static, str>>) -> Reply {
    Reply::new(code, reason)
}

/// Steps 1, 2, 5, 6 and the expiry rules of step 7 of RFC 3261 §10.3, on
/// a request that passed [`crate::validate::validate_parts`] with `parsed`.
pub fn check_register(
    cfg: &RegistrarConfig,
    req: &Message,
    parsed: &Validated<'_>,
    ctx: &RequestContext,
    now_ms: u64,
) -> Result<PendingRegister, Reply> {
    // Step 1: the Request-URI names a domain we serve, without userinfo.
    let ruri = match &parsed.request_uri {
        Uri::Sip(u) => u,
        _ => return Err(reject(416, "Unsupported URI Scheme")),
    };
    if ruri.user.is_some() {
        return Err(reject(400, "Request-URI Must Not Contain User Info"));
    }
    let ruri_host = ruri.host_lowercase();
    let ruri_is_us = ctx.is_local_host(&ruri_host);
    if !ruri_is_us && !cfg.serves(&ruri_host) {
        return Err(reject(404, "Domain Not Served Here"));
    }

    // Step 2: every extension in Require must be supported.
    if let Some(refusal) = unsupported_required(req) {
        return Err(refusal);
    }

    // Step 5: the To header holds the AOR; canonicalize it.
    let to_uri = match &parsed.to_uri {
        Uri::Sip(u) => u,
        _ => return Err(reject(416, "Unsupported URI Scheme In To")),
    };
    let to_host = to_uri.host_lowercase();
    // An AOR in a served domain is valid when the Request-URI names this
    // server by address; an AOR whose host is this server's own address is
    // valid too (as Kamailio's "myself"). Otherwise the AOR's domain must be
    // the Request-URI's.
    let valid_for_domain = if ruri_is_us {
        cfg.serves(&to_host) || ctx.is_local_host(&to_host)
    } else {
        to_host == ruri_host
    };
    if !valid_for_domain {
        return Err(reject(404, "Address-of-Record Not Valid For Domain"));
    }
    let aor = to_uri
        .canonical_aor()
        .ok_or_else(|| reject(400, "Bad To URI: User Part Is Not UTF-8"))?;

    let call_id = req
        .header(HeaderName::CallId)
        .ok_or_else(|| reject(400, "Missing Call-ID Header"))?
        .to_string();
    let cseq = parsed.cseq;

    // Expires header: invalid values fall back to the default (§10.3 step 7).
    let header_expires = match req.single_header(HeaderName::Expires) {
        Ok(v) => v.and_then(parse_delta_seconds),
        Err(_) => return Err(reject(400, "Duplicate Expires Header")),
    };

    // Step 6: Contact: * only alone and with Expires: 0.
    let change = match &parsed.contacts {
        ContactList::None => Change::Query,
        ContactList::Star { alone: false } => {
            return Err(reject(400, "Contact * Must Be The Only Contact"));
        }
        ContactList::Star { alone: true } => {
            if header_expires != Some(0) {
                return Err(reject(400, "Contact * Requires Expires: 0"));
            }
            Change::RemoveAll
        }
        ContactList::List(list) => {
            let mut ops = Vec::with_capacity(list.len());
            for c in list {
                let [expires, q, instance, reg_id, action] =
                    c.params
                        .get_many(["expires", "q", "+sip.instance", "reg-id", "action"]);
                let expires = match expires {
                    Some(Some(v)) => parse_delta_seconds(v).or(header_expires),
                    _ => header_expires,
                }
                .unwrap_or(cfg.default_expires);
                if expires != 0 && expires < cfg.min_expires {
                    return Err(reject(423, "Interval Too Brief")
                        .with_header("Min-Expires", cfg.min_expires.to_string()));
                }
                let q = match q {
                    None => 1000,
                    Some(v) => v
                        .and_then(parse_qvalue)
                        .ok_or_else(|| reject(400, "Bad Contact: Invalid q Value"))?,
                };
                let instance = match instance.flatten() {
                    Some(v) => Some(
                        unquote(v)
                            .map_err(|e| reject(400, format!("Bad Contact: {e}")))?
                            .into_owned(),
                    ),
                    None => None,
                };
                let reg_id = match reg_id {
                    None => None,
                    Some(v) => Some(
                        v.and_then(|v| v.parse::<u32>().ok())
                            .ok_or_else(|| reject(400, "Bad Contact: Invalid reg-id"))?,
                    ),
                };
                let action = match action {
                    None => None,
                    Some(v) => Some(
                        v.and_then(ContactAction::parse)
                            .ok_or_else(|| reject(400, "Bad Contact: Invalid action Value"))?,
                    ),
                };
                ops.push(ContactOp {
                    uri: c.uri.to_string(),
                    q,
                    expires: expires.min(cfg.max_expires),
                    instance,
                    reg_id,
                    action,
                });
            }
            Change::Contacts(ops)
        }
    };

    let path: Vec<String> = req
        .header_values(HeaderName::Path)
        .map(str::to_string)
        .collect();
    let wants_path = req
        .header_values(HeaderName::Supported)
        .any(|t| t.eq_ignore_ascii_case("path"));
    let echo_path = (wants_path && !path.is_empty()).then(|| path.join(", "));
    let template = Binding {
        aor: String::new(),
        contact: String::new(),
        q: 1000,
        expires_at_ms: 0,
        call_id,
        cseq: cseq.seq,
        received: Some(ctx.source_text()),
        transport: ctx.transport.as_str().to_string(),
        local: Some(ctx.local_text()),
        user_agent: req.header(HeaderName::UserAgent).map(str::to_string),
        path,
        instance: None,
        reg_id: None,
        action: None,
        updated_at_ms: now_ms,
    };
    Ok(PendingRegister {
        aor,
        change,
        template,
        max_contacts: cfg.max_contacts,
        echo_path,
    })
}

/// Same Call-ID with a CSeq not higher than the stored one: the request is
/// out of order (a late retransmission or a replay) and fails, changing nothing.
fn out_of_order() -> Reply {
    reject(400, "Out-of-Order CSeq For This Call-ID")
}

impl PendingRegister {
    /// True when the request only asks for the current bindings.
    pub fn is_query(&self) -> bool {
        matches!(self.change, Change::Query)
    }

    /// Step 6 and 7 on the AOR's live bindings, as one atomic change: either
    /// every contact is applied or (on `Err`) nothing is.
    pub fn apply(&self, bindings: &mut Vec<Binding>, now_ms: u64) -> Result<(), Reply> {
        match &self.change {
            Change::Query => Ok(()),
            Change::RemoveAll => {
                if bindings
                    .iter()
                    .any(|b| b.call_id == self.template.call_id && self.cseq() <= b.cseq)
                {
                    return Err(out_of_order());
                }
                bindings.clear();
                Ok(())
            }
            Change::Contacts(ops) => {
                // Each contact URI is parsed once: `before` and `next_uris`
                // run parallel to `bindings` and `next`.
                let before: Vec<Option<Uri<'_>>> = bindings
                    .iter()
                    .map(|b| Uri::parse(&b.contact).ok())
                    .collect();
                let mut next = bindings.clone();
                let mut next_uris = before.clone();
                for op in ops {
                    let new_uri = Uri::parse(&op.uri).ok();
                    let same = |u: &Option<Uri<'_>>| match (&new_uri, u) {
                        (Some(a), Some(b)) => a.equivalent(b),
                        _ => false,
                    };
                    // The Call-ID/CSeq rule applies to the bindings as they
                    // were before this request: a contact listed twice in
                    // one REGISTER is not out of order with itself.
                    if bindings.iter().zip(&before).any(|(b, u)| {
                        same(u) && b.call_id == self.template.call_id && self.cseq() <= b.cseq
                    }) {
                        return Err(out_of_order());
                    }
                    match next_uris.iter().position(same) {
                        Some(i) if op.expires == 0 => {
                            next.remove(i);
                            next_uris.remove(i);
                        }
                        Some(i) => {
                            next[i] = self.binding_for(op, now_ms);
                            next_uris[i] = new_uri;
                        }
                        None if op.expires > 0 => {
                            next.push(self.binding_for(op, now_ms));
                            next_uris.push(new_uri);
                        }
                        None => {}
                    }
                }
                if mixes_actions(ops, &next) {
                    return Err(reject(
                        409,
                        "Conflict: Contacts Mix action=proxy And action=redirect",
                    ));
                }
                if next.len() > self.max_contacts && next.len() > bindings.len() {
                    return Err(reject(
                        403,
                        format!(
                            "Too Many Contacts (At Most {} Per Address-of-Record)",
                            self.max_contacts
                        ),
                    ));
                }
                *bindings = next;
                Ok(())
            }
        }
    }

    /// The request's CSeq number.
    fn cseq(&self) -> u32 {
        self.template.cseq
    }

    /// The binding `op` asks for: the template (which has no AOR, so its
    /// clone does not copy it twice) with the AOR and the contact's fields.
    fn binding_for(&self, op: &ContactOp, now_ms: u64) -> Binding {
        Binding {
            aor: self.aor.clone(),
            contact: op.uri.clone(),
            q: op.q,
            expires_at_ms: now_ms.saturating_add(u64::from(op.expires) * 1000),
            instance: op.instance.clone(),
            reg_id: op.reg_id,
            action: op.action,
            ..self.template.clone()
        }
    }

    /// Step 8: the 200 OK listing every current binding with its remaining
    /// lifetime, plus Date (and Path when the UA supports it).
    pub fn bindings_response(&self, bindings: &[Binding], now_ms: u64) -> Reply {
        let mut reply = Reply::new(200, "OK");
        let mut sorted: Vec<&Binding> = bindings.iter().collect();
        sorted.sort_by(|a, b| b.q.cmp(&a.q).then_with(|| a.contact.cmp(&b.contact)));
        for b in sorted {
            reply = reply.with_header("Contact", contact_value(b, now_ms));
        }
        if let Some(path) = &self.echo_path {
            reply = reply.with_header("Path", path.clone());
        }
        reply.with_header("Date", http_date(now_ms))
    }
}

/// RFC 2543 §4.2.6: "All current registrations MUST share the same action
/// value." True when the request's own contacts, or the AOR's bindings as
/// they would be after the change, carry both `action=proxy` and
/// `action=redirect`. Contacts without the parameter take the server's
/// mode and conflict with neither.
fn mixes_actions(ops: &[ContactOp], after: &[Binding]) -> bool {
    let mut seen: Option<ContactAction> = None;
    let explicit = ops
        .iter()
        .filter(|op| op.expires > 0)
        .filter_map(|op| op.action)
        .chain(after.iter().filter_map(|b| b.action));
    for action in explicit {
        match seen {
            Some(s) if s != action => return true,
            _ => seen = Some(action),
        }
    }
    false
}

/// A Contact value of the 200 OK: the binding's URI with its remaining
/// lifetime and the parameters it was registered with, built in one String.
fn contact_value(b: &Binding, now_ms: u64) -> String {
    let remaining = b.expires_at_ms.saturating_sub(now_ms).div_ceil(1000);
    let instance_len = b.instance.as_ref().map_or(0, |i| i.len() + 16);
    let mut v = String::with_capacity(b.contact.len() + instance_len + 64);
    v.push('<');
    v.push_str(&b.contact);
    v.push_str(">;expires=");
    v.push_str(itoa::Buffer::new().format(remaining));
    if b.q != 1000 {
        v.push_str(";q=");
        push_q(&mut v, b.q);
    }
    if let Some(inst) = &b.instance {
        v.push_str(";+sip.instance=\"");
        v.push_str(inst);
        v.push('"');
    }
    if let Some(id) = b.reg_id {
        v.push_str(";reg-id=");
        v.push_str(itoa::Buffer::new().format(id));
    }
    if let Some(action) = b.action {
        v.push_str(";action=");
        v.push_str(action.as_str());
    }
    v
}

/// A q-value in thousandths written as RFC 3261 `qvalue` (`0.5`, `0.125`, `1`).
pub fn format_q(q: u16) -> String {
    let mut s = String::with_capacity(5);
    push_q(&mut s, q);
    s
}

/// Appends [`format_q`] of `q` to `out`: trailing zeros (and a bare dot)
/// are left out.
fn push_q(out: &mut String, q: u16) {
    if q >= 1000 {
        out.push('1');
        return;
    }
    let digits = [q / 100, q / 10 % 10, q % 10];
    let len = digits.iter().rposition(|d| *d != 0).map_or(0, |i| i + 1);
    out.push('0');
    if len > 0 {
        out.push('.');
    }
    for d in &digits[..len] {
        out.push(char::from(b'0' + *d as u8));
    }
}

/// RFC 3261 `Date` (RFC 1123 form, GMT) for `now_ms`.
pub fn http_date(now_ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_drop_trailing_zeros() {
        for q in 0..=1100u16 {
            let old = if q >= 1000 {
                "1".to_string()
            } else {
                let s = format!("0.{q:03}");
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            assert_eq!(format_q(q), old, "q={q}");
        }
    }

    #[test]
    fn contact_value_lists_the_binding_parameters() {
        let b = Binding {
            aor: "sip:a@example.com".to_string(),
            contact: "sip:a@10.0.0.1".to_string(),
            q: 500,
            expires_at_ms: 10_001,
            call_id: "c".to_string(),
            cseq: 1,
            received: None,
            transport: "udp".to_string(),
            local: None,
            user_agent: None,
            path: Vec::new(),
            instance: Some("<urn:uuid:1>".to_string()),
            reg_id: Some(7),
            action: Some(ContactAction::Proxy),
            updated_at_ms: 0,
        };
        assert_eq!(
            contact_value(&b, 0),
            "<sip:a@10.0.0.1>;expires=11;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=7;action=proxy"
        );
    }
}
