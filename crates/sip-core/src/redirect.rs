//! The redirect server (RFC 3261 §8.3, §21.3): a 302 listing every current
//! contact of the AOR with its `q` and remaining `expires`, highest q first.

use crate::registrar::format_q;
use crate::reply::Reply;
use location_model::Binding;

/// The 302 Moved Temporarily for `bindings` at `now_ms`.
pub fn redirect_reply(bindings: &[Binding], now_ms: u64) -> Reply {
    let mut sorted: Vec<&Binding> = bindings.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.q));
    let mut reply = Reply::new(302, "Moved Temporarily");
    for b in sorted {
        let remaining = b.expires_at_ms.saturating_sub(now_ms).div_ceil(1000);
        reply = reply.with_header(
            "Contact",
            format!("<{}>;q={};expires={remaining}", b.contact, format_q(b.q)),
        );
    }
    reply
}
