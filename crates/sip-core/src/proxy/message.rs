//! The messages the proxy writes: forwarded requests (§16.6), CANCEL
//! (§9.1), the hop-by-hop ACK for a non-2xx (§17.1.1.3), and responses with
//! the proxy's own Via removed (§16.7 step 3). Branches carry the shard of
//! the proxy that owns them and a loop-detection hash (§16.6 step 8).

use crate::digest::AuthParams;
use crate::transport::{Destination, HopAddr, Transport};
use sip_message::headers::{split_list, CSeq, Via};
use sip_message::{HeaderName, Message, MessageWriter, NameAddr};
use std::net::{IpAddr, SocketAddr};

/// Prefix of every branch this proxy writes (after the RFC 3261 cookie).
const BRANCH_PREFIX: &str = "z9hG4bK-lc";

/// Prefix of the user part of a Record-Route URI that carries a flow token.
const FLOW_PREFIX: &str = "lcf";

/// FNV-1a over the fields §16.6 step 8 names for loop detection, so the
/// same request reaching this proxy again hashes the same in every shard
/// and every process.
pub(crate) fn loop_hash(req: &Message) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(req.request_uri());
    for name in [HeaderName::From, HeaderName::To] {
        let tag = req
            .header(name)
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|n| n.tag());
        feed(tag.unwrap_or(""));
    }
    feed(req.header(HeaderName::CallId).unwrap_or(""));
    let seq = req
        .header(HeaderName::CSeq)
        .and_then(|c| CSeq::parse(c).ok())
        .map_or(0, |c| c.seq);
    feed(&seq.to_string());
    for v in req.header_values(HeaderName::ProxyRequire) {
        feed(v);
    }
    for v in req.header_values(HeaderName::Route) {
        feed(v);
    }
    (h ^ (h >> 32)) as u32
}

/// A fresh branch for a request forwarded by shard `shard`.
pub(crate) fn make_branch(shard: u16, hash: u32, seq: u64, salt: u64) -> String {
    format!("{BRANCH_PREFIX}{shard:x}-{hash:08x}-{seq:x}{salt:x}")
}

/// The shard that wrote `branch`, if this proxy wrote it.
pub fn shard_of_branch(branch: &str) -> Option<u16> {
    let rest = branch.strip_prefix(BRANCH_PREFIX)?;
    let shard = rest.split('-').next()?;
    u16::from_str_radix(shard, 16).ok()
}

/// The loop hash written into one of our branches.
pub(crate) fn hash_of_branch(branch: &str) -> Option<u32> {
    let rest = branch.strip_prefix(BRANCH_PREFIX)?;
    let hash = rest.split('-').nth(1)?;
    u32::from_str_radix(hash, 16).ok()
}

/// The branch of the top Via of a message.
pub fn top_branch(msg: &Message) -> Option<&str> {
    let top = msg
        .header(HeaderName::Via)
        .and_then(|l| split_list(l).next())?;
    Via::parse(top).ok()?.branch()
}

/// The Record-Route value for one of our sockets, with a flow token in the
/// user part when the route leads to a flow a UA registered over.
pub(crate) fn record_route_value(
    transport: Transport,
    local: SocketAddr,
    flow: Option<(Transport, SocketAddr)>,
) -> String {
    let user = match flow {
        Some((t, addr)) => format!("{}@", encode_flow(t, addr)),
        None => String::new(),
    };
    let tp = match transport {
        Transport::Udp => "",
        Transport::Tcp => ";transport=tcp",
    };
    format!("<sip:{user}{local}{tp};lr>")
}

fn encode_flow(t: Transport, addr: SocketAddr) -> String {
    let kind = match t {
        Transport::Udp => 'u',
        Transport::Tcp => 't',
    };
    let ip: String = match addr.ip() {
        IpAddr::V4(a) => a.octets().iter().map(|b| format!("{b:02x}")).collect(),
        IpAddr::V6(a) => a.octets().iter().map(|b| format!("{b:02x}")).collect(),
    };
    format!("{FLOW_PREFIX}{kind}{ip}x{}", addr.port())
}

/// Decodes the flow token of a Record-Route user part.
pub(crate) fn decode_flow(user: &str) -> Option<(Transport, SocketAddr)> {
    let rest = user.strip_prefix(FLOW_PREFIX)?;
    let transport = match rest.as_bytes().first()? {
        b'u' => Transport::Udp,
        b't' => Transport::Tcp,
        _ => return None,
    };
    let (ip_hex, port) = rest[1..].split_once('x')?;
    let bytes: Vec<u8> = (0..ip_hex.len())
        .step_by(2)
        .map(|i| {
            ip_hex
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()?;
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some((transport, SocketAddr::new(ip, port.parse().ok()?)))
}

/// What changes when a request is forwarded (§16.6 steps 2-8).
pub(crate) struct Forward<'a> {
    /// The new Request-URI.
    pub ruri: &'a str,
    /// Our Via value (with the fresh branch).
    pub via: String,
    /// The previous hop, marked in its Via with `received`/`rport`.
    pub source: SocketAddr,
    /// Our Record-Route values, top first.
    pub record_route: Vec<String>,
    /// Route values to put before the request's own (a binding's Path).
    pub path: &'a [String],
    /// How many of the request's Route values (from the top) were ours and
    /// are dropped.
    pub pop_routes: usize,
    /// The Max-Forwards value to write.
    pub max_forwards: u32,
    /// Whether a `Proxy-Authorization` value for this realm is forwarded
    /// (false for a realm of ours: a callee must never see a caller's
    /// digest response, RFC 3261 §22.3).
    pub keep_credentials: &'a dyn Fn(&str) -> bool,
}

/// Writes the forwarded copy of `req`.
pub(crate) fn forward_request(req: &Message, f: &Forward<'_>) -> Vec<u8> {
    let mut w = MessageWriter::request(req.method_str(), f.ruri);
    w.header("Via", &f.via);
    let mut first = true;
    for line in req.headers(HeaderName::Via) {
        if first {
            first = false;
            crate::response::write_top_via(&mut w, line, f.source);
        } else {
            w.header("Via", line);
        }
    }
    w.header_fmt("Max-Forwards", format_args!("{}", f.max_forwards));
    for rr in &f.record_route {
        w.header("Record-Route", rr);
    }
    for line in req.headers(HeaderName::RecordRoute) {
        w.header("Record-Route", line);
    }
    for p in f.path {
        w.header("Route", p);
    }
    for v in req.header_values(HeaderName::Route).skip(f.pop_routes) {
        w.header("Route", v);
    }
    for (name, mapped, value) in req.header_lines() {
        let rewritten = matches!(
            mapped,
            HeaderName::Via
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
        );
        let ours = mapped == HeaderName::ProxyAuthorization
            && credentials_realm(value).is_some_and(|realm| !(f.keep_credentials)(&realm));
        if !rewritten && !ours {
            w.header(name, value);
        }
    }
    w.finish(None, req.body())
}

/// The realm of the Digest credentials in a `Proxy-Authorization` value.
fn credentials_realm(value: &str) -> Option<String> {
    AuthParams::parse_all(value)
        .ok()?
        .into_iter()
        .find(AuthParams::is_digest)?
        .get("realm")
        .map(str::to_string)
}

/// The CANCEL for a forwarded INVITE (§9.1): same Request-URI, top Via,
/// Call-ID, From, To, CSeq number and Route set.
pub(crate) fn cancel_for(fwd: &Message) -> Vec<u8> {
    hop_request(fwd, "CANCEL", fwd.header(HeaderName::To).unwrap_or(""))
}

/// The ACK for a non-2xx final response to a forwarded INVITE (§17.1.1.3):
/// like the CANCEL, with the To of the response.
pub(crate) fn ack_for(fwd: &Message, resp: &Message) -> Vec<u8> {
    hop_request(fwd, "ACK", resp.header(HeaderName::To).unwrap_or(""))
}

fn hop_request(fwd: &Message, method: &str, to: &str) -> Vec<u8> {
    let mut w = MessageWriter::request(method, fwd.request_uri());
    if let Some(top) = fwd
        .header(HeaderName::Via)
        .and_then(|l| split_list(l).next())
    {
        w.header("Via", top);
    }
    w.header("Max-Forwards", "70");
    if let Some(from) = fwd.header(HeaderName::From) {
        w.header("From", from);
    }
    w.header("To", to);
    if let Some(id) = fwd.header(HeaderName::CallId) {
        w.header("Call-ID", id);
    }
    let seq = fwd
        .header(HeaderName::CSeq)
        .and_then(|c| CSeq::parse(c).ok())
        .map_or(1, |c| c.seq);
    w.header_fmt("CSeq", format_args!("{seq} {method}"));
    for v in fwd.header_values(HeaderName::Route) {
        w.header("Route", v);
    }
    w.finish(None, b"")
}

/// A response without its top Via (ours), to send upstream.
pub(crate) fn strip_top_via(resp: &Message) -> Vec<u8> {
    let mut w = MessageWriter::response(resp.status().unwrap_or(500), resp.reason());
    let mut first = true;
    for line in resp.headers(HeaderName::Via) {
        if first {
            first = false;
            let rest: Vec<&str> = split_list(line).skip(1).collect();
            if !rest.is_empty() {
                w.header("Via", &rest.join(", "));
            }
        } else {
            w.header("Via", line);
        }
    }
    for (name, mapped, value) in resp.header_lines() {
        if matches!(mapped, HeaderName::Via | HeaderName::ContentLength) {
            continue;
        }
        w.header(name, value);
    }
    w.finish(None, resp.body())
}

/// Where a response goes when forwarded statelessly: the (new) top Via's
/// `received`/`rport` or sent-by (§18.2.2, RFC 3581).
pub(crate) fn via_destination(via_value: &str) -> Option<Destination> {
    let via = Via::parse(via_value).ok()?;
    let transport = if via.transport.eq_ignore_ascii_case("udp") {
        Transport::Udp
    } else if via.transport.eq_ignore_ascii_case("tcp") {
        Transport::Tcp
    } else {
        return None;
    };
    let host = via
        .params
        .get("received")
        .flatten()
        .and_then(|r| r.parse::<IpAddr>().ok());
    let port = via
        .params
        .get("rport")
        .flatten()
        .and_then(|p| p.parse::<u16>().ok())
        .or(via.port)
        .unwrap_or(5060);
    let addr = match (host, via.host) {
        (Some(ip), _) => HopAddr::Socket(SocketAddr::new(ip, port)),
        (None, sip_message::Host::V4(a)) => HopAddr::Socket(SocketAddr::new(IpAddr::V4(a), port)),
        (None, sip_message::Host::V6(a)) => HopAddr::Socket(SocketAddr::new(IpAddr::V6(a), port)),
        (None, sip_message::Host::Name(n)) => HopAddr::Name(n.to_ascii_lowercase(), port),
    };
    Some(Destination {
        transport,
        addr,
        conn: None,
        local: None,
        fallback: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_flows_round_trip() {
        let b = make_branch(7, 0xdead_beef, 42, 0xabc);
        assert!(b.starts_with("z9hG4bK"));
        assert_eq!(shard_of_branch(&b), Some(7));
        assert_eq!(hash_of_branch(&b), Some(0xdead_beef));
        assert_eq!(shard_of_branch("z9hG4bKother"), None);
        for addr in ["127.0.0.1:50312", "[2001:db8::7]:5070"] {
            let a: SocketAddr = addr.parse().unwrap();
            let rr = record_route_value(
                Transport::Tcp,
                "127.0.0.1:5060".parse().unwrap(),
                Some((Transport::Tcp, a)),
            );
            let user = rr.trim_start_matches("<sip:").split('@').next().unwrap();
            assert_eq!(decode_flow(user), Some((Transport::Tcp, a)));
        }
        assert_eq!(decode_flow("alice"), None);
    }
}
