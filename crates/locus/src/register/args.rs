//! Flags of `locus register` and their validation into a [`Plan`].

use super::resolve::Resolver;
use clap::{ArgGroup, Args, ValueEnum};
use sip_core::client::{registrar_uri_for, ContactSpec, Operation, RegistrationConfig};
use sip_core::Transport;
use sip_message::headers::parse_qvalue;
use sip_message::{NameAddr, Uri};
use std::io::BufRead;
use std::net::SocketAddr;

/// Flags of `locus register`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("mode").args(["once", "query", "remove", "remove_all"])))]
#[command(group(ArgGroup::new("discovery").args(["registrar", "multicast"])))]
pub struct RegisterArgs {
    /// Address-of-record to register, e.g. sip:alice@example.com
    #[arg(value_name = "AOR")]
    pub aor: String,

    /// Registrar to send to (e.g. sip:registrar.example.com or sip:192.0.2.1:5060;transport=tcp); without it the AOR's domain is resolved with DNS (RFC 3263)
    #[arg(long, value_name = "URI")]
    pub registrar: Option<String>,

    /// Find the registrar by multicast: send to sip.mcast.net (224.0.1.75:5060) with TTL 1 and follow its 302
    #[arg(long)]
    pub multicast: bool,

    /// DNS server for the RFC 3263 look-ups, as IP:PORT [default: the system's resolv.conf]
    #[arg(long, value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,

    /// Transport [default: from DNS (NAPTR/SRV), else udp]
    #[arg(long, value_enum, value_name = "PROTO")]
    pub transport: Option<TransportArg>,

    /// Contact to register (repeatable); per-contact q and expires as '<sip:a@192.0.2.4>;q=0.5;expires=60' [default: this host's address and port]
    #[arg(long, value_name = "URI")]
    pub contact: Vec<String>,

    /// q-value for every contact that has none of its own (0 to 1)
    #[arg(long, value_name = "Q")]
    pub q: Option<String>,

    /// Lifetime to ask for, in seconds (Expires header; a contact's own expires wins) [default: the registrar's]
    #[arg(long, value_name = "SECS")]
    pub expires: Option<u32>,

    /// +sip.instance of the contacts (RFC 5626), e.g. urn:uuid:00000000-0000-1000-8000-000A95A0E128
    #[arg(long, value_name = "URN")]
    pub instance: Option<String>,

    /// reg-id of the contacts (RFC 5626; needs --instance)
    #[arg(long, value_name = "N", requires = "instance")]
    pub reg_id: Option<u32>,

    /// From address for a third-party registration [default: the AOR]
    #[arg(long, value_name = "URI")]
    pub from: Option<String>,

    /// Username for digest authentication [default: the AOR's user part]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the digest password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,

    /// Register once, print the bindings the registrar lists, and exit (no refresh)
    #[arg(long)]
    pub once: bool,

    /// Only ask for the current bindings (REGISTER without Contact)
    #[arg(long)]
    pub query: bool,

    /// Remove this contact (repeatable)
    #[arg(long, value_name = "CONTACT")]
    pub remove: Vec<String>,

    /// Remove every binding of the AOR (Contact: *, Expires: 0)
    #[arg(long)]
    pub remove_all: bool,

    /// Print JSON (one object per line) instead of tables
    #[arg(long)]
    pub json: bool,

    /// Print every SIP message sent and received (on stderr)
    #[arg(short, long)]
    pub verbose: bool,
}

/// `--transport` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// UDP
    Udp,
    /// TCP
    Tcp,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
        }
    }
}

/// What the command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Register and keep refreshing until SIGINT/SIGTERM, then unregister.
    Refresh,
    /// Register once.
    Once,
    /// Query.
    Query,
    /// Remove these contacts.
    Remove(Vec<String>),
    /// Remove all.
    RemoveAll,
}

impl Mode {
    /// The first operation.
    pub fn operation(&self) -> Operation {
        match self {
            Mode::Refresh | Mode::Once => Operation::Register,
            Mode::Query => Operation::Query,
            Mode::Remove(l) => Operation::Remove(l.clone()),
            Mode::RemoveAll => Operation::RemoveAll,
        }
    }
}

/// Validated flags.
#[derive(Debug)]
pub struct Plan {
    pub aor: String,
    pub mode: Mode,
    pub registration: RegistrationConfig,
    pub registrar: Option<String>,
    pub multicast: bool,
    pub transport: Option<Transport>,
    pub resolver: Resolver,
    pub json: bool,
    pub verbose: bool,
}

impl Plan {
    /// The ordered registrar addresses to try.
    pub async fn find_registrar(&self) -> Result<Vec<sip_core::client::Destination>, String> {
        if self.multicast {
            return Ok(vec![sip_core::client::Destination {
                transport: Transport::Udp,
                addr: "224.0.1.75:5060".parse().expect("literal"),
            }]);
        }
        let uri = match &self.registrar {
            Some(r) => r.clone(),
            None => self.registration.request_uri.clone(),
        };
        self.resolver
            .resolve_uri(&uri, self.transport)
            .await
            .map_err(|e| format!("cannot find the registrar for {uri}: {e}"))
    }
}

fn sip_uri_ok(s: &str) -> bool {
    matches!(Uri::parse(s), Ok(Uri::Sip(_)))
}

/// Validates the flags; errors name the flag.
pub fn plan(a: RegisterArgs) -> Result<Plan, String> {
    let aor = if a.aor.contains(':') {
        a.aor.clone()
    } else {
        format!("sip:{}", a.aor)
    };
    let ok_aor = match Uri::parse(&aor) {
        Ok(Uri::Sip(u)) => u.user.is_some(),
        _ => false,
    };
    if !ok_aor {
        return Err(format!(
            "invalid AOR '{}': expected a SIP URI with a user part, e.g. sip:alice@example.com",
            a.aor
        ));
    }
    let request_uri = registrar_uri_for(&aor).ok_or_else(|| format!("invalid AOR '{}'", a.aor))?;
    if let Some(r) = &a.registrar {
        if !sip_uri_ok(r) {
            return Err(format!(
                "invalid value '{r}' for '--registrar <URI>': expected a SIP URI such as sip:192.0.2.1:5060"
            ));
        }
    }
    if let Some(f) = &a.from {
        if !sip_uri_ok(f) {
            return Err(format!(
                "invalid value '{f}' for '--from <URI>': expected a SIP URI"
            ));
        }
    }
    let global_q = match &a.q {
        Some(q) if parse_qvalue(q).is_none() => {
            return Err(format!(
                "invalid value '{q}' for '--q <Q>': expected a q-value between 0 and 1 (at most 3 decimals)"
            ))
        }
        q => q.clone(),
    };
    let mut contacts = Vec::new();
    for c in &a.contact {
        let bad = || {
            format!("invalid value '{c}' for '--contact <URI>': expected a SIP URI, or '<URI>;q=Q;expires=SECS'")
        };
        if c.trim_start().starts_with('<') {
            let na = NameAddr::parse(c).map_err(|_| bad())?;
            if Uri::parse(na.uri).is_err() {
                return Err(bad());
            }
            let q = match na.params.get("q") {
                Some(Some(q)) if parse_qvalue(q).is_some() => Some(q.to_string()),
                Some(_) => return Err(bad()),
                None => global_q.clone(),
            };
            let expires = match na.params.get("expires") {
                Some(Some(e)) => Some(e.parse::<u32>().map_err(|_| bad())?),
                Some(None) => return Err(bad()),
                None => None,
            };
            contacts.push(ContactSpec {
                uri: na.uri.to_string(),
                q,
                expires,
            });
        } else {
            if Uri::parse(c).is_err() {
                return Err(bad());
            }
            contacts.push(ContactSpec {
                uri: c.clone(),
                q: global_q.clone(),
                expires: None,
            });
        }
    }
    for r in &a.remove {
        let uri = NameAddr::parse(r).map(|n| n.uri).unwrap_or(r);
        if Uri::parse(uri).is_err() {
            return Err(format!(
                "invalid value '{r}' for '--remove <CONTACT>': expected a URI"
            ));
        }
    }
    let instance = a.instance.as_ref().map(|i| {
        let i = i.trim();
        if i.starts_with('<') {
            i.to_string()
        } else {
            format!("<{i}>")
        }
    });
    if let Some(i) = &instance {
        let inner = &i[1..i.len() - 1];
        if !i.ends_with('>') || !inner.contains(':') || inner.contains(['"', '<', '>', ' ']) {
            return Err(format!(
                "invalid value '{}' for '--instance <URN>': expected a URN such as urn:uuid:...",
                a.instance.as_deref().unwrap_or("")
            ));
        }
    }
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("--password-stdin: cannot read standard input: {e}"))?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        if p.is_empty() {
            return Err("--password-stdin: standard input held no password".into());
        }
        Some(p)
    } else {
        None
    };
    let mode = if a.once {
        Mode::Once
    } else if a.query {
        Mode::Query
    } else if !a.remove.is_empty() {
        Mode::Remove(
            a.remove
                .iter()
                .map(|r| NameAddr::parse(r).map(|n| n.uri).unwrap_or(r).to_string())
                .collect(),
        )
    } else if a.remove_all {
        Mode::RemoveAll
    } else {
        Mode::Refresh
    };
    let registration = RegistrationConfig {
        aor: aor.clone(),
        request_uri,
        from: a.from.clone(),
        contacts,
        expires: a.expires,
        instance,
        reg_id: a.reg_id,
        username: a.user.clone(),
        password,
        user_agent: concat!("locus/", env!("CARGO_PKG_VERSION")).to_string(),
        call_id: None,
        seed: rand::random(),
        refresh: mode == Mode::Refresh,
    };
    Ok(Plan {
        aor,
        mode,
        registration,
        registrar: a.registrar,
        multicast: a.multicast,
        transport: a.transport.map(Transport::from),
        resolver: Resolver::new(a.dns_server),
        json: a.json,
        verbose: a.verbose,
    })
}
