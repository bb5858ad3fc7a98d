//! What happens to requests that are not REGISTERs: proxy or redirect,
//! forking, relaying, and the SIP multicast group.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::checks::{pick, seconds};
use super::error::ConfigError;
use super::input::{Pairs, Switch};
use super::setting::{declare, Choices, Fallback, Setting};
use super::sources::Sources;
use crate::domain::normalize_domain;

/// What requests for a registered AOR get, and how its contacts are tried:
/// the proxy core's own types, so the settings need no translation.
pub use sip_core::{Forking, Mode};

/// The multicast settings, when `--multicast` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastSettings {
    /// True: REGISTERs on the group are processed; false: redirected (302).
    pub process_register: bool,
    /// True: responses go to the group; false: to the sender.
    pub reply_to_group: bool,
    /// Interface address to join on.
    pub interface: Ipv4Addr,
}

/// Validated routing settings (proxy, redirect, relay, multicast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    /// Default mode.
    pub mode: Mode,
    /// Per-domain modes (lower-case domain, mode), in the order given.
    pub domain_modes: Vec<(String, Mode)>,
    /// Forking policy.
    pub forking: Forking,
    /// Timer C, per INVITE branch (≥ 1 s).
    pub branch_timeout: Duration,
    /// Record-Route dialog-initiating requests.
    pub record_route: bool,
    /// Forward requests for domains not served.
    pub relay: bool,
    /// 403 or 404: the refusal when relaying is off.
    pub relay_denied_status: u16,
    /// Join the multicast group with these settings.
    pub multicast: Option<MulticastSettings>,
}

/// The modes by name; a mode is read in any case.
const MODES: [(&str, Mode); 2] = [("proxy", Mode::Proxy), ("redirect", Mode::Redirect)];

declare! {
    /// The routing settings, in the order of `--help` and the README.
    ROUTING;

    /// What requests for a registered AOR get.
    MODE: Setting<String, Mode> = Setting {
        flag: "--mode",
        key: "mode",
        value_name: "MODE",
        help: "What requests for a registered AOR get: proxy (forwarded to its contacts) or \
               redirect (302 listing them)",
        default: Fallback::Value(&["proxy"]),
        choices: Choices::OneOf(&["proxy", "redirect"]),
        check: |text| pick(&text, &MODES, true),
        reloadable: true,
        secret: false,
    };

    /// The mode of single domains, overriding `mode`.
    DOMAIN_MODES: Setting<Pairs, Vec<(String, Mode)>> = Setting {
        flag: "--domain-mode",
        key: "domain_modes",
        value_name: "DOMAIN=MODE",
        help: "Mode of one domain, as DOMAIN=proxy or DOMAIN=redirect; repeatable, replaces the \
               configured table",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: domain_modes,
        reloadable: true,
        secret: false,
    };

    /// How the contacts of an AOR are tried.
    FORKING: Setting<String, Forking> = Setting {
        flag: "--forking",
        key: "forking",
        value_name: "POLICY",
        help: "How the contacts of an AOR are tried: by-q (equal q in parallel, lower q after \
               failure), parallel or sequential",
        default: Fallback::Value(&["by-q"]),
        choices: Choices::OneOf(&["by-q", "parallel", "sequential"]),
        check: |text| {
            let policies = [
                ("by-q", Forking::ByQ),
                ("parallel", Forking::Parallel),
                ("sequential", Forking::Sequential),
            ];
            pick(&text, &policies, false)
        },
        reloadable: true,
        secret: false,
    };

    /// Timer C (RFC 3261 §16.8), per INVITE branch.
    BRANCH_TIMEOUT: Setting<u32, Duration> = Setting {
        flag: "--branch-timeout",
        key: "branch_timeout",
        value_name: "SECS",
        help: "How long one INVITE branch may ring before it is cancelled (Timer C), in seconds",
        default: Fallback::Value(&["180"]),
        choices: Choices::Any,
        check: seconds,
        reloadable: true,
        secret: false,
    };

    /// Record-Route dialog-initiating requests.
    RECORD_ROUTE: Setting<bool, bool> = Setting {
        flag: "--record-route",
        key: "record_route",
        value_name: "BOOL",
        help: "Add Record-Route to dialog-initiating requests (true or false)",
        default: Fallback::Value(&["true"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Forward requests for domains not served.
    RELAY: Setting<Switch, bool> = Setting {
        flag: "--relay",
        key: "relay",
        value_name: "",
        help: "Forward requests for domains this server does not serve (resolving their host); \
               without it they are refused",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: |Switch(on)| Ok(on),
        reloadable: true,
        secret: false,
    };

    /// The refusal of a request for a domain not served, when not relaying.
    RELAY_DENIED_STATUS: Setting<u16, u16> = Setting {
        flag: "--relay-denied-status",
        key: "relay_denied_status",
        value_name: "CODE",
        help: "Status refusing a request for a domain not served when --relay is off: 403 or 404",
        default: Fallback::Value(&["403"]),
        choices: Choices::Any,
        check: |status| match status {
            403 | 404 => Ok(status),
            _ => Err(format!("must be 403 or 404, got {status}")),
        },
        reloadable: true,
        secret: false,
    };

    /// Join the SIP multicast group.
    MULTICAST: Setting<Switch, bool> = Setting {
        flag: "--multicast",
        key: "multicast",
        value_name: "",
        help: "Join the SIP multicast group 224.0.1.75:5060 (sip.mcast.net)",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: |Switch(on)| Ok(on),
        reloadable: false,
        secret: false,
    };

    /// Whether a REGISTER received on the group is processed (true) or
    /// redirected (false).
    MULTICAST_REGISTER: Setting<String, bool> = Setting {
        flag: "--multicast-register",
        key: "multicast_register",
        value_name: "HOW",
        help: "What a REGISTER received on the multicast group gets: redirect (302 to this \
               server's unicast address) or process",
        default: Fallback::Value(&["redirect"]),
        choices: Choices::OneOf(&["redirect", "process"]),
        check: |text| pick(&text, &[("redirect", false), ("process", true)], false),
        reloadable: true,
        secret: false,
    };

    /// Whether responses to requests received on the group go to the group
    /// (true) or to the sender (false).
    MULTICAST_REPLY: Setting<String, bool> = Setting {
        flag: "--multicast-reply",
        key: "multicast_reply",
        value_name: "WHERE",
        help: "Where responses to multicast requests go: sender (its Via) or group \
               (224.0.1.75:5060, RFC 2543)",
        default: Fallback::Value(&["sender"]),
        choices: Choices::OneOf(&["sender", "group"]),
        check: |text| pick(&text, &[("sender", false), ("group", true)], false),
        reloadable: true,
        secret: false,
    };

    /// Interface to join the group on.
    MULTICAST_INTERFACE: Setting<Ipv4Addr, Ipv4Addr> = Setting {
        flag: "--multicast-interface",
        key: "multicast_interface",
        value_name: "IP",
        help: "IPv4 address of the interface to join the multicast group on",
        default: Fallback::Value(&["0.0.0.0"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };
}

/// The routing settings.
pub fn resolve(sources: &Sources) -> Result<RoutingSettings, ConfigError> {
    Ok(RoutingSettings {
        mode: MODE.value(sources)?,
        domain_modes: DOMAIN_MODES.value(sources)?,
        forking: FORKING.value(sources)?,
        branch_timeout: BRANCH_TIMEOUT.value(sources)?,
        record_route: RECORD_ROUTE.value(sources)?,
        relay: RELAY.value(sources)?,
        relay_denied_status: RELAY_DENIED_STATUS.value(sources)?,
        multicast: multicast(sources)?,
    })
}

/// The multicast settings, checked even when `--multicast` is off.
fn multicast(sources: &Sources) -> Result<Option<MulticastSettings>, ConfigError> {
    let on = MULTICAST.value(sources)?;
    let settings = MulticastSettings {
        process_register: MULTICAST_REGISTER.value(sources)?,
        reply_to_group: MULTICAST_REPLY.value(sources)?,
        interface: MULTICAST_INTERFACE.value(sources)?,
    };
    Ok(on.then_some(settings))
}

/// `DOMAIN=MODE` items as (normalized domain, mode).
fn domain_modes(Pairs(items): Pairs) -> Result<Vec<(String, Mode)>, String> {
    items
        .iter()
        .map(|item| {
            let (domain, mode) = item
                .rsplit_once('=')
                .ok_or_else(|| format!("expected DOMAIN=proxy or DOMAIN=redirect, got '{item}'"))?;
            let domain = normalize_domain(domain)
                .ok_or_else(|| format!("'{domain}' is not a valid hostname or IP address"))?;
            Ok((domain, pick(mode, &MODES, true)?))
        })
        .collect()
}
