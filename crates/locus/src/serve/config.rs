//! The server's configuration built from the settings: what `serve`
//! starts with and what a reload applies.

use crate::listen::Transport;
use crate::settings::Settings;
use server::{AuthSetup, ListenAddr, ServerConfig};
use sip_core::{CoreConfig, MulticastRegister, ProxyConfig, RegistrarConfig};

/// Endpoint instances (sharded by Call-ID): well above the core count, so
/// the receiving threads and the store's writer rarely meet on one.
const ENDPOINT_SHARDS: usize = 16;

/// The shell's configuration for `settings`, authenticating with `auth`.
pub fn server_config(settings: &Settings, auth: Option<AuthSetup>) -> ServerConfig {
    ServerConfig {
        listen: settings
            .listen
            .iter()
            .map(|l| match l.transport {
                Transport::Udp => ListenAddr::Udp(l.addr),
                Transport::Tcp => ListenAddr::Tcp(l.addr),
            })
            .collect(),
        tcp_idle_timeout: settings.tcp_idle_timeout,
        core: CoreConfig {
            registrar: RegistrarConfig {
                // The registrar compares hosts without IPv6 brackets.
                domains: settings.domains.iter().map(|d| unbracketed(d)).collect(),
                default_expires: settings.default_expires,
                min_expires: settings.min_expires,
                max_expires: settings.max_expires,
                max_contacts: settings.max_contacts,
            },
            proxy: proxy_config(settings),
            multicast_register: match settings.routing.multicast {
                Some(m) if m.process_register => MulticastRegister::Process,
                _ => MulticastRegister::Redirect,
            },
            multicast_reply_to_group: settings.routing.multicast.is_some_and(|m| m.reply_to_group),
            // Filled in by the server once its sockets are bound.
            local_hosts: Vec::new(),
        },
        limits: sip_message::Limits::default(),
        local_hosts: Vec::new(),
        multicast: settings.routing.multicast.map(|m| server::MulticastConfig {
            interface: m.interface,
        }),
        auth,
        abuse: settings.abuse.clone(),
        enumeration_protection: settings.auth.enumeration_protection,
        shards: ENDPOINT_SHARDS,
    }
}

/// A domain as the core compares it: an IPv6 literal without brackets.
fn unbracketed(domain: &str) -> String {
    domain
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

fn proxy_config(settings: &Settings) -> ProxyConfig {
    let r = &settings.routing;
    ProxyConfig {
        mode: r.mode,
        domain_modes: r
            .domain_modes
            .iter()
            .map(|(d, m)| (unbracketed(d), *m))
            .collect(),
        forking: r.forking,
        branch_timeout_ms: r.branch_timeout.as_millis() as u64,
        record_route: r.record_route,
        relay: r.relay,
        relay_denied_status: r.relay_denied_status,
        listeners: Vec::new(),
    }
}
