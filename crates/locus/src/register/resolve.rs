//! Locating the registrar (RFC 3263 §4): a URI with an IP address or an
//! explicit port is used as is (A/AAAA for a name); otherwise NAPTR picks
//! the transports (SIP+D2U, SIP+D2T) and their SRV names, falling back to
//! `_sip._udp` then `_sip._tcp` SRV records, then to A/AAAA on port 5060.

use hickory_resolver::config::{NameServerConfig, Protocol, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioAsyncResolver;
use sip_core::client::Destination;
use sip_core::Transport;
use sip_message::{Host, Uri};
use std::net::{IpAddr, SocketAddr};

/// The DNS side of finding a registrar.
#[derive(Debug)]
pub struct Resolver {
    dns_server: Option<SocketAddr>,
}

impl Resolver {
    /// A resolver asking `dns_server`, or the system's resolvers.
    pub fn new(dns_server: Option<SocketAddr>) -> Resolver {
        Resolver { dns_server }
    }

    fn resolver(&self) -> Result<TokioAsyncResolver, String> {
        let mut opts = ResolverOpts::default();
        opts.attempts = 2;
        opts.timeout = std::time::Duration::from_secs(3);
        match self.dns_server {
            Some(addr) => {
                let mut cfg = ResolverConfig::new();
                cfg.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                cfg.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
                Ok(TokioAsyncResolver::tokio(cfg, opts))
            }
            None => {
                let (cfg, _) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?;
                Ok(TokioAsyncResolver::tokio(cfg, opts))
            }
        }
    }

    /// The ordered destinations for a SIP URI; `transport` restricts (or,
    /// for an address given outright, chooses) the transport.
    pub async fn resolve_uri(
        &self,
        uri: &str,
        transport: Option<Transport>,
    ) -> Result<Vec<Destination>, String> {
        let parsed = Uri::parse(uri).map_err(|e| format!("bad URI {uri}: {e}"))?;
        let Uri::Sip(u) = parsed else {
            return Err(format!("not a SIP URI: {uri}"));
        };
        if u.secure {
            return Err("sips: (TLS) is not supported yet".into());
        }
        let param_transport = match u.params.get("transport").flatten() {
            Some(t) if t.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
            Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
            Some(t) => return Err(format!("transport {t} is not supported (udp, tcp)")),
            None => None,
        };
        let chosen = transport.or(param_transport);
        let ip = match u.host {
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
            Host::Name(_) => None,
        };
        // RFC 3263 §4.1/§4.2: a numeric address or an explicit port means
        // no NAPTR/SRV; UDP unless the URI or the flag says otherwise.
        if let Some(ip) = ip {
            return Ok(vec![Destination {
                transport: chosen.unwrap_or(Transport::Udp),
                addr: SocketAddr::new(ip, u.port.unwrap_or(5060)),
            }]);
        }
        let Host::Name(name) = u.host else {
            unreachable!("handled above")
        };
        let resolver = self.resolver()?;
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        if let Some(port) = u.port {
            let t = chosen.unwrap_or(Transport::Udp);
            return addresses(&resolver, &fqdn, port, t).await;
        }
        // NAPTR (§4.1), only when no transport was forced by the URI.
        let mut srv_names: Vec<(Transport, String)> = Vec::new();
        if param_transport.is_none() {
            if let Ok(lookup) = resolver.lookup(fqdn.as_str(), RecordType::NAPTR).await {
                let mut records: Vec<(u16, u16, Transport, String)> = lookup
                    .record_iter()
                    .filter_map(|r| match r.data() {
                        Some(RData::NAPTR(n)) => {
                            let service =
                                String::from_utf8_lossy(n.services()).to_ascii_uppercase();
                            let t = match service.as_str() {
                                "SIP+D2U" => Transport::Udp,
                                "SIP+D2T" => Transport::Tcp,
                                _ => return None,
                            };
                            let flags = String::from_utf8_lossy(n.flags()).to_ascii_lowercase();
                            (flags == "s").then(|| {
                                (n.order(), n.preference(), t, n.replacement().to_string())
                            })
                        }
                        _ => None,
                    })
                    .filter(|(_, _, t, _)| chosen.is_none_or_eq(*t))
                    .collect();
                records.sort_by_key(|(o, p, _, _)| (*o, *p));
                srv_names = records.into_iter().map(|(_, _, t, n)| (t, n)).collect();
            }
        }
        if srv_names.is_empty() {
            // §4.1: no NAPTR: SRV for each transport, UDP first, then TCP.
            for t in [Transport::Udp, Transport::Tcp] {
                if chosen.is_none_or_eq(t) {
                    let proto = if t == Transport::Udp { "_udp" } else { "_tcp" };
                    srv_names.push((t, format!("_sip.{proto}.{fqdn}")));
                }
            }
        }
        let mut out = Vec::new();
        for (t, srv_name) in &srv_names {
            let Ok(srv) = resolver.srv_lookup(srv_name.as_str()).await else {
                continue;
            };
            let mut entries: Vec<(u16, u16, u16, String)> = srv
                .iter()
                .map(|s| (s.priority(), s.weight(), s.port(), s.target().to_string()))
                .collect();
            // Lowest priority first; among equals the heavier first (a
            // deterministic reading of RFC 2782's weighted choice).
            entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            for (_, _, port, target) in entries {
                if let Ok(list) = addresses(&resolver, &target, port, *t).await {
                    out.extend(list);
                }
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        // §4.2: no SRV: A/AAAA on port 5060.
        addresses(&resolver, &fqdn, 5060, chosen.unwrap_or(Transport::Udp)).await
    }
}

trait NoneOrEq {
    fn is_none_or_eq(&self, t: Transport) -> bool;
}

impl NoneOrEq for Option<Transport> {
    fn is_none_or_eq(&self, t: Transport) -> bool {
        !matches!(self, Some(c) if *c != t)
    }
}

async fn addresses(
    resolver: &TokioAsyncResolver,
    name: &str,
    port: u16,
    transport: Transport,
) -> Result<Vec<Destination>, String> {
    let ips = resolver
        .lookup_ip(name)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(ips
        .iter()
        .map(|ip| Destination {
            transport,
            addr: SocketAddr::new(ip, port),
        })
        .collect())
}
