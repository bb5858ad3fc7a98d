//! `locus bindings`: the current bindings, read from the store's file.

use crate::settings::DEFAULT_DATA_DIR;
use clap::Args;
use location::{read_bindings, Binding, StoreError};
use sip_message::Uri;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `locus bindings`.
#[derive(Debug, Clone, Args)]
pub struct BindingsArgs {
    /// Directory holding the location database
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

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

/// Prints the bindings as a table; exit 1 when the store cannot be read,
/// 2 when the AOR is not a SIP address.
pub fn run(args: &BindingsArgs) -> ExitCode {
    let aor = match args.aor.as_deref().map(|a| (a, canonical(a))) {
        None => None,
        Some((_, Some(c))) => Some(c),
        Some((raw, None)) => {
            eprintln!("locus: error: AOR: {raw:?} is not a SIP address-of-record (e.g. sip:alice@example.com)");
            return ExitCode::from(2);
        }
    };
    let now = server::now_ms();
    match read_bindings(&args.data_dir, aor.as_deref(), now) {
        Ok(list) => {
            print!("{}", render(&list, now));
            ExitCode::SUCCESS
        }
        Err(StoreError::Missing(path)) => {
            eprintln!(
                "locus: error: no location store at {} (start `locus serve --data-dir {}` first)",
                path.display(),
                args.data_dir.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "locus: error: cannot read the location store in {}: {e}",
                args.data_dir.display()
            );
            ExitCode::FAILURE
        }
    }
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
