//! `locus bindings`: the current bindings, from the running server's
//! admin API, or from the store's file when no server runs.

use crate::api_client::{ApiError, ServerArgs, Session};
use crate::failure::{exit_code, Failure};
use clap::Args;
use location::{read_bindings, Binding, StoreError};
use serde::Deserialize;
use sip_message::Uri;
use std::path::Path;
use std::process::ExitCode;

/// The most bindings asked for per page of the API (its maximum).
const PAGE: &str = "1000";

/// Arguments of `locus bindings`.
#[derive(Debug, Clone, Args)]
pub struct BindingsArgs {
    /// Where the server and the store are.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Address-of-record whose bindings to print (e.g. sip:alice@example.com); all when omitted
    #[arg(value_name = "AOR")]
    pub aor: Option<String>,
}

/// Canonicalizes what the user typed as an AOR (`alice@example.com` or a
/// full SIP URI) into the store's key.
fn canonical(aor: &str) -> Option<String> {
    let with_scheme = if aor.contains(':') && !aor.starts_with('[') {
        aor.to_string()
    } else {
        format!("sip:{aor}")
    };
    match Uri::parse(&with_scheme).ok()? {
        Uri::Sip(u) => u.canonical_aor(),
        _ => None,
    }
}

/// Prints the bindings as a table; exit 1 when neither the server nor the
/// store can be read, 2 for invalid input (an AOR that is not a SIP
/// address).
pub fn run(args: &BindingsArgs) -> ExitCode {
    exit_code(print_bindings(args))
}

fn print_bindings(args: &BindingsArgs) -> Result<(), Failure> {
    let aor = match args.aor.as_deref().map(|a| (a, canonical(a))) {
        None => None,
        Some((_, Some(c))) => Some(c),
        Some((raw, None)) => {
            return Err(Failure::Invalid(format!(
                "AOR: {raw:?} is not a SIP address-of-record (e.g. sip:alice@example.com)"
            )))
        }
    };
    let target = args.server.target()?;
    let now = server::now_ms();
    let list = target.either(
        |session| from_server(session, aor.as_deref(), now),
        |dir| from_store(dir, aor.as_deref(), now),
    )?;
    print!("{}", render(&list, now));
    Ok(())
}

/// A binding as the API lists it (the fields the table shows).
#[derive(Debug, Deserialize)]
struct ApiBinding {
    aor: String,
    contact: String,
    q: f64,
    expires: u64,
    call_id: String,
    cseq: u32,
    received: Option<String>,
    transport: String,
    local: Option<String>,
    user_agent: Option<String>,
    #[serde(default)]
    path: Vec<String>,
    instance: Option<String>,
    reg_id: Option<u32>,
    updated_at: u64,
}

impl ApiBinding {
    /// As the store's binding, expiring `expires` seconds after `now_ms`.
    fn into_binding(self, now_ms: u64) -> Binding {
        Binding {
            aor: self.aor,
            contact: self.contact,
            q: (self.q.clamp(0.0, 1.0) * 1000.0).round() as u16,
            expires_at_ms: now_ms + self.expires * 1000,
            call_id: self.call_id,
            cseq: self.cseq,
            received: self.received,
            transport: self.transport,
            local: self.local,
            user_agent: self.user_agent,
            path: self.path,
            instance: self.instance,
            reg_id: self.reg_id,
            action: None,
            updated_at_ms: self.updated_at,
        }
    }
}

/// One page of `GET /api/v1/bindings`.
#[derive(Debug, Deserialize)]
struct Page {
    bindings: Vec<ApiBinding>,
    next_cursor: Option<String>,
}

/// The bindings (of `aor`, or all of them, page by page) from the API.
fn from_server(session: &Session, aor: Option<&str>, now: u64) -> Result<Vec<Binding>, ApiError> {
    let mut list = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = session.url(&["api", "v1", "bindings"]);
        {
            let mut query = url.query_pairs_mut();
            match aor {
                Some(aor) => query.append_pair("aor", aor),
                None => query.append_pair("limit", PAGE),
            };
            if let Some(c) = &cursor {
                query.append_pair("cursor", c);
            }
        }
        let answer = session.get(url)?;
        if answer.status != 200 {
            return Err(ApiError::Failed(Failure::Failed(format!(
                "the server at {} answered {}: {}",
                session.base(),
                answer.status,
                answer.error()
            ))));
        }
        let page: Page = serde_json::from_value(answer.body)
            .map_err(|e| Failure::Failed(format!("the server's list of bindings: {e}")))?;
        list.extend(page.bindings.into_iter().map(|b| b.into_binding(now)));
        match page.next_cursor {
            // A cursor that does not move would never end.
            Some(next) if aor.is_none() && cursor.as_ref() != Some(&next) => cursor = Some(next),
            _ => return Ok(list),
        }
    }
}

/// The bindings (of `aor`, or all) from the store's file in `dir`.
fn from_store(dir: &Path, aor: Option<&str>, now: u64) -> Result<Vec<Binding>, Failure> {
    read_bindings(dir, aor, now).map_err(|e| match e {
        StoreError::Missing(path) => Failure::Failed(format!(
            "no location store at {} (start `locus serve --data-dir {}` first)",
            path.display(),
            dir.display()
        )),
        e => Failure::Failed(format!(
            "cannot read the location store in {}: {e}",
            dir.display()
        )),
    })
}

/// The table text (a header line, one line per binding, and a count).
pub fn render(list: &[Binding], now_ms: u64) -> String {
    let headers = [
        "AOR",
        "CONTACT",
        "EXPIRES",
        "Q",
        "TRANSPORT",
        "RECEIVED",
        "CALL-ID",
        "CSEQ",
        "USER-AGENT",
    ];
    let rows: Vec<[String; 9]> = list
        .iter()
        .map(|b| {
            [
                b.aor.clone(),
                b.contact.clone(),
                format!("{}s", b.expires_at_ms.saturating_sub(now_ms).div_ceil(1000)),
                sip_core::registrar::format_q(b.q),
                b.transport.clone(),
                b.received.clone().unwrap_or_else(|| "-".into()),
                b.call_id.clone(),
                b.cseq.to_string(),
                b.user_agent.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    out.push_str(&format!("{} binding(s)\n", list.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizes_user_input() {
        assert_eq!(
            canonical("alice@Example.com").as_deref(),
            Some("sip:alice@example.com")
        );
        assert_eq!(
            canonical("sip:%61lice@example.com;user=phone").as_deref(),
            Some("sip:alice@example.com")
        );
        assert_eq!(canonical("tel:+123"), None);
    }
}
