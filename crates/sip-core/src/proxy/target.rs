//! Where a forwarded request goes: the target set built from the AOR's
//! bindings, the forking groups, and the next hop of each branch.

use crate::config::{Forking, ProxyConfig};
use crate::transport::{Destination, HopAddr, Transport};
use location_model::Binding;
use sip_message::{Host, NameAddr, SipUri, Uri};
use std::net::{IpAddr, SocketAddr};

/// One branch to start: the Request-URI, the Route values to put first
/// (a binding's Path), the next hop, and whether the hop is a flow the UA
/// registered over (so the Record-Route can carry its token).
#[derive(Debug, Clone)]
pub(crate) struct BranchTarget {
    pub ruri: String,
    pub routes: Vec<String>,
    pub dest: Destination,
    pub flow: Option<(Transport, SocketAddr)>,
}

/// The transport a SIP URI asks for (`transport=` parameter); `None` for one
/// locus cannot send on (TLS, WS, SCTP, or `sips:`).
pub(crate) fn uri_transport(uri: &SipUri<'_>) -> Option<Transport> {
    if uri.secure {
        return None;
    }
    match uri.params.get("transport").flatten() {
        None => Some(Transport::Udp),
        Some(t) if t.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
        Some(_) => None,
    }
}

/// The next hop named by a SIP URI (its `maddr` is not honoured).
pub(crate) fn uri_hop(uri: &SipUri<'_>) -> HopAddr {
    let port = uri.port.unwrap_or(5060);
    match uri.host {
        Host::V4(a) => HopAddr::Socket(SocketAddr::new(IpAddr::V4(a), port)),
        Host::V6(a) => HopAddr::Socket(SocketAddr::new(IpAddr::V6(a), port)),
        Host::Name(n) => HopAddr::Name(n.to_ascii_lowercase(), port),
    }
}

/// The destination for a URI (a Route value or a Request-URI); `None` when
/// it is not a SIP URI locus can send to.
pub(crate) fn uri_destination(cfg: &ProxyConfig, uri_text: &str) -> Option<Destination> {
    let uri = Uri::parse(uri_text).ok()?;
    let sip = uri.as_sip()?;
    let transport = uri_transport(sip)?;
    let addr = uri_hop(sip);
    let dest_sock = match &addr {
        HopAddr::Socket(s) => Some(*s),
        HopAddr::Name(..) => None,
    };
    Some(Destination {
        transport,
        local: cfg.listener_for(transport, dest_sock, None).map(|l| l.addr),
        addr,
        conn: None,
        fallback: None,
    })
}

/// The URI inside a Route or Path value (`<sip:p1;lr>` → `sip:p1;lr`).
pub(crate) fn route_uri(value: &str) -> Option<&str> {
    NameAddr::parse(value).ok().map(|n| n.uri)
}

/// The branch for one binding: to its Path when it has one (RFC 3327),
/// else to the address its REGISTER came from over the same transport (the
/// connection it registered on, for TCP), falling back to the contact URI.
pub(crate) fn binding_target(cfg: &ProxyConfig, b: &Binding) -> Option<BranchTarget> {
    if let Some(first) = b.path.first() {
        let dest = uri_destination(cfg, route_uri(first)?)?;
        return Some(BranchTarget {
            ruri: b.contact.clone(),
            routes: b.path.clone(),
            dest,
            flow: None,
        });
    }
    let contact_dest = uri_destination(cfg, &b.contact);
    let registered_transport = match b.transport.as_str() {
        "udp" => Some(Transport::Udp),
        "tcp" => Some(Transport::Tcp),
        _ => None,
    };
    let received = b
        .received
        .as_deref()
        .and_then(|r| r.parse::<SocketAddr>().ok());
    match (registered_transport, received) {
        (Some(transport), Some(addr)) => {
            let preferred = b.local.as_deref().and_then(|l| l.parse().ok());
            let local = cfg
                .listener_for(transport, Some(addr), preferred)
                .map(|l| l.addr);
            Some(BranchTarget {
                ruri: b.contact.clone(),
                routes: Vec::new(),
                dest: Destination {
                    transport,
                    addr: HopAddr::Socket(addr),
                    conn: None,
                    local,
                    fallback: contact_dest
                        .filter(|d| d.transport == transport)
                        .map(|d| d.addr),
                },
                flow: Some((transport, addr)),
            })
        }
        _ => Some(BranchTarget {
            ruri: b.contact.clone(),
            routes: Vec::new(),
            dest: contact_dest?,
            flow: None,
        }),
    }
}

/// The next group of bindings to try: those not tried yet, chosen by the
/// forking policy (highest q first; ties keep the stored order).
pub(crate) fn next_group(forking: Forking, bindings: &[Binding], tried: &[String]) -> Vec<Binding> {
    let mut untried: Vec<&Binding> = bindings
        .iter()
        .filter(|b| !tried.iter().any(|t| t == &b.contact))
        .collect();
    untried.sort_by_key(|b| std::cmp::Reverse(b.q));
    let Some(top) = untried.first().map(|b| b.q) else {
        return Vec::new();
    };
    match forking {
        Forking::Parallel => untried.into_iter().cloned().collect(),
        Forking::Sequential => untried.into_iter().take(1).cloned().collect(),
        Forking::ByQ => untried
            .into_iter()
            .take_while(|b| b.q == top)
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(contact: &str, q: u16) -> Binding {
        Binding {
            aor: "sip:a@example.com".into(),
            contact: contact.into(),
            q,
            expires_at_ms: 10,
            call_id: "c".into(),
            cseq: 1,
            received: None,
            transport: "udp".into(),
            local: None,
            user_agent: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            action: None,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn groups_follow_q_and_policy() {
        let set = [b("sip:1@h", 500), b("sip:2@h", 1000), b("sip:3@h", 1000)];
        let contacts = |g: Vec<Binding>| g.into_iter().map(|b| b.contact).collect::<Vec<_>>();
        assert_eq!(
            contacts(next_group(Forking::ByQ, &set, &[])),
            ["sip:2@h", "sip:3@h"]
        );
        let tried = ["sip:2@h".to_string(), "sip:3@h".to_string()];
        assert_eq!(
            contacts(next_group(Forking::ByQ, &set, &tried)),
            ["sip:1@h"]
        );
        assert_eq!(
            contacts(next_group(Forking::Sequential, &set, &[])),
            ["sip:2@h"]
        );
        assert_eq!(next_group(Forking::Parallel, &set, &[]).len(), 3);
        assert!(next_group(
            Forking::Parallel,
            &set,
            &["sip:1@h".into(), "sip:2@h".into(), "sip:3@h".into()]
        )
        .is_empty());
    }

    #[test]
    fn binding_goes_to_its_received_address_with_the_contact_as_fallback() {
        let mut x = b("sip:bob@bob.example:5070;transport=tcp", 1000);
        x.transport = "tcp".into();
        x.received = Some("192.0.2.9:40000".into());
        let t = binding_target(&ProxyConfig::default(), &x).unwrap();
        assert_eq!(t.dest.transport, Transport::Tcp);
        assert_eq!(
            t.dest.addr,
            HopAddr::Socket("192.0.2.9:40000".parse().unwrap())
        );
        assert_eq!(
            t.dest.fallback,
            Some(HopAddr::Name("bob.example".into(), 5070))
        );
        x.path = vec!["<sip:edge.example:5080;lr>".into()];
        let t = binding_target(&ProxyConfig::default(), &x).unwrap();
        assert_eq!(t.dest.addr, HopAddr::Name("edge.example".into(), 5080));
        assert_eq!(t.routes, ["<sip:edge.example:5080;lr>"]);
    }
}
