//! Request validation (§16.3) and the routing decision (§16.4, §16.5): is
//! the request for an AOR of ours (look it up), for the next hop of a
//! dialog we record-routed, or for a domain we do not serve (relay or
//! refuse)?

use super::message::{decode_flow, hash_of_branch, loop_hash};
use super::target::{route_uri, uri_destination};
use crate::config::{CoreConfig, Mode};
use crate::context::RequestContext;
use crate::reply::Reply;
use crate::transport::{Destination, HopAddr, Transport};
use sip_message::headers::Via;
use sip_message::{HeaderName, Host, Message, NameAddr, SipUri, Uri};
use std::net::SocketAddr;

/// Where a request goes.
#[derive(Debug)]
pub(crate) enum Routing {
    /// Look these AORs up (the first with bindings wins).
    Aor {
        /// Candidate AORs, canonical form.
        aors: Vec<String>,
        /// The mode of the Request-URI's domain.
        mode: Mode,
    },
    /// Forward to one next hop (a dialog we record-routed, a loose Route,
    /// or a relayed request).
    Hop(Destination),
    /// Refuse with this reply.
    Reject(Reply),
}

/// The routing decision plus what it found on the way.
#[derive(Debug)]
pub(crate) struct Decision {
    /// Where the request goes.
    pub routing: Routing,
    /// How many Route values at the top named this server (dropped when
    /// forwarding, §16.4).
    pub pop_routes: usize,
    /// True when the Request-URI is an AOR of a served domain.
    pub local_target: bool,
}

/// True when `uri` names this server: one of its addresses and ports, or
/// (with a configured domain list) a served domain.
pub(crate) fn is_myself(cfg: &CoreConfig, ctx: &RequestContext<'_>, uri: &SipUri<'_>) -> bool {
    let host = uri.host_lowercase();
    (ctx.is_local_host(&host) && cfg.proxy.listens_on_port(uri.port))
        || (!cfg.registrar.domains.is_empty() && cfg.registrar.serves(&host))
}

/// True when the Request-URI's host is one whose AORs live in our location
/// service: this server, a served domain, or (with no domain list) any
/// host name.
fn is_served_host(cfg: &CoreConfig, ctx: &RequestContext<'_>, uri: &SipUri<'_>) -> bool {
    if is_myself(cfg, ctx, uri) {
        return true;
    }
    cfg.registrar.domains.is_empty() && matches!(uri.host, Host::Name(_))
}

/// True when the router (rather than the registrar's local answers) takes
/// `req`: any method but REGISTER, unless the Request-URI names this server
/// or a served domain without a user part.
pub fn is_routed(cfg: &CoreConfig, req: &Message, ctx: &RequestContext<'_>) -> bool {
    if req.method() == Some(sip_message::Method::Register) {
        return false;
    }
    match Uri::parse(req.request_uri()) {
        Ok(Uri::Sip(u)) => !(u.user.is_none() && is_served_host(cfg, ctx, &u)),
        _ => true,
    }
}

/// The §16.3 checks after parsing: Max-Forwards (483), loop (482),
/// Proxy-Require (420). Returns the Max-Forwards to write when forwarding.
pub(crate) fn validate(
    cfg: &CoreConfig,
    req: &Message,
    ctx: &RequestContext<'_>,
) -> Result<u32, Reply> {
    let max_forwards = match req.header(HeaderName::MaxForwards) {
        Some(v) => sip_message::headers::parse_delta_seconds(v).unwrap_or(70),
        None => 71,
    };
    if max_forwards == 0 {
        return Err(Reply::new(483, "Too Many Hops"));
    }
    let hash = loop_hash(req);
    for v in req.header_values(HeaderName::Via) {
        let Ok(via) = Via::parse(v) else { continue };
        let ours = via.branch().and_then(hash_of_branch) == Some(hash)
            && ctx.is_local_host(&host_text(&via.host))
            && cfg.proxy.listens_on_port(via.port);
        if ours {
            return Err(Reply::new(482, "Loop Detected"));
        }
    }
    let unsupported: Vec<&str> = req
        .header_values(HeaderName::ProxyRequire)
        .filter(|t| !crate::SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if !unsupported.is_empty() {
        return Err(
            Reply::new(420, "Bad Extension").with_header("Unsupported", unsupported.join(", "))
        );
    }
    Ok(max_forwards - 1)
}

fn host_text(h: &Host<'_>) -> String {
    match h {
        Host::Name(n) => n.to_ascii_lowercase(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    }
}

/// Decides where `req` goes.
pub(crate) fn decide(cfg: &CoreConfig, req: &Message, ctx: &RequestContext<'_>) -> Decision {
    let routes: Vec<&str> = req.header_values(HeaderName::Route).collect();
    let mut pop_routes = 0;
    let mut flow: Option<(Transport, SocketAddr)> = None;
    for v in &routes {
        let Some(uri) = route_uri(v).and_then(|u| Uri::parse(u).ok()) else {
            break;
        };
        let Some(sip) = uri.as_sip() else { break };
        if !is_myself(cfg, ctx, sip) {
            break;
        }
        pop_routes += 1;
        // A flow token leads back to the UA that registered over it; a
        // request arriving on that flow goes the other way (RFC 5626 §5.3).
        if let Some(f) = sip.user.and_then(decode_flow) {
            if f.1 != ctx.source {
                flow = Some(f);
            }
        }
    }
    let in_dialog = req
        .header(HeaderName::To)
        .and_then(|t| NameAddr::parse(t).ok())
        .is_some_and(|t| t.tag().is_some());
    let ours_recorded = in_dialog && pop_routes > 0;
    let denied = || {
        let code = cfg.proxy.relay_denied_status;
        let reason = if code == 404 {
            "Not Found"
        } else {
            "Relaying Forbidden"
        };
        Reply::new(code, reason)
    };
    let decision = |routing, local_target| Decision {
        routing,
        pop_routes,
        local_target,
    };

    // A loose Route after ours: the next hop is that Route (§16.6 step 6).
    if let Some(next) = routes.get(pop_routes) {
        if !(ours_recorded || cfg.proxy.relay) {
            return decision(Routing::Reject(denied()), false);
        }
        return match route_uri(next).and_then(|u| uri_destination(&cfg.proxy, u)) {
            Some(dest) => decision(Routing::Hop(dest), false),
            None => decision(
                Routing::Reject(Reply::new(416, "Unsupported URI Scheme In Route")),
                false,
            ),
        };
    }
    let ruri = match Uri::parse(req.request_uri()) {
        Ok(Uri::Sip(u)) => u,
        Ok(_) => {
            return decision(
                Routing::Reject(Reply::new(416, "Unsupported URI Scheme")),
                false,
            )
        }
        Err(e) => {
            return decision(
                Routing::Reject(Reply::new(400, format!("Bad Request-URI: {e}"))),
                false,
            )
        }
    };
    if ours_recorded {
        // In a dialog we record-routed: the Request-URI is the remote target.
        let Some(mut dest) = uri_destination(&cfg.proxy, req.request_uri()) else {
            return decision(
                Routing::Reject(Reply::new(416, "Unsupported URI Scheme")),
                false,
            );
        };
        if let Some((transport, addr)) = flow {
            dest = Destination {
                transport,
                addr: HopAddr::Socket(addr),
                conn: None,
                local: cfg
                    .proxy
                    .listener_for(transport, Some(addr), None)
                    .map(|l| l.addr),
                fallback: (dest.transport == transport).then_some(dest.addr),
            };
        }
        return decision(Routing::Hop(dest), false);
    }
    if ruri.user.is_some() && is_served_host(cfg, ctx, &ruri) {
        let aors = aor_candidates(cfg, ctx, &ruri);
        if aors.is_empty() {
            return decision(
                Routing::Reject(Reply::new(400, "Bad Request-URI: user is not UTF-8")),
                true,
            );
        }
        let mode = cfg.proxy.mode_for(&ruri.host_lowercase());
        return decision(Routing::Aor { aors, mode }, true);
    }
    if !cfg.proxy.relay {
        return decision(Routing::Reject(denied()), false);
    }
    match uri_destination(&cfg.proxy, req.request_uri()) {
        Some(dest) => decision(Routing::Hop(dest), false),
        None => decision(
            Routing::Reject(Reply::new(416, "Unsupported URI Scheme")),
            false,
        ),
    }
}

/// The AORs a Request-URI may mean, in order: its canonical form; without
/// its port; and, when it names this server by address, the same user in
/// each served domain.
fn aor_candidates(cfg: &CoreConfig, ctx: &RequestContext<'_>, ruri: &SipUri<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(canonical) = ruri.canonical_aor() else {
        return out;
    };
    out.push(canonical);
    let Some(user) = ruri.user.and_then(sip_message::uri::unescape) else {
        return out;
    };
    let scheme = if ruri.secure { "sips" } else { "sip" };
    let host = match ruri.host {
        Host::V6(a) => format!("[{a}]"),
        _ => ruri.host_lowercase(),
    };
    if ruri.port.is_some() {
        out.push(format!("{scheme}:{user}@{host}"));
    }
    if ctx.is_local_host(&ruri.host_lowercase()) {
        for d in &cfg.registrar.domains {
            out.push(format!("{scheme}:{user}@{d}"));
        }
    }
    out.dedup();
    out
}
