//! Drives the sans-IO proxy: shards it by Call-ID (each branch carries its
//! shard, so responses come back to it), answers its location lookups from
//! the store, and sends what it outputs over UDP or TCP.

use crate::dispatch::Shared;
use crate::security::Security;
use bytes::Bytes;
use location::LocationStore;
use sip_core::auth::aor_user_host;
use sip_core::proxy::{
    shard_of_branch, top_branch, CallerAuth, Destination, HopAddr, Output, Proxy, Subscriber,
    Transmit,
};
use sip_core::{CoreConfig, RequestContext, Transport};
use sip_message::{HeaderName, Message};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Number of proxy shards.
const SHARDS: usize = 16;

/// The proxy shards.
pub(crate) struct Router {
    shards: Vec<Mutex<Proxy>>,
    hasher: std::collections::hash_map::RandomState,
    security: Arc<Security>,
    /// Answer 480 for unknown users too, so callers cannot tell users apart.
    enumeration_protection: bool,
}

impl Router {
    /// Proxies over `cfg` (whose listeners are already filled in), with
    /// callers authenticated as `security` says.
    pub(crate) fn new(
        cfg: Arc<CoreConfig>,
        security: Arc<Security>,
        enumeration_protection: bool,
    ) -> Router {
        let auth = Arc::new(CallerAuth::new(cfg.clone()));
        Router {
            shards: (0..SHARDS)
                .map(|i| Mutex::new(Proxy::new(cfg.clone(), auth.clone(), i as u16)))
                .collect(),
            hasher: Default::default(),
            security,
            enumeration_protection,
        }
    }

    /// What the account directory says of the user behind `aor`: no
    /// accounts (or enumeration protection) means no answer.
    fn subscriber(&self, aor: &str) -> Subscriber {
        let Some(auth) = self.security.authenticator() else {
            return Subscriber::Unchecked;
        };
        if self.enumeration_protection {
            return Subscriber::Unchecked;
        }
        let Some((user, host)) = aor_user_host(aor) else {
            return Subscriber::Unknown;
        };
        let host = sip_core::auth::strip_port(host);
        match auth.users().find(auth.realm_for(host), user) {
            Some(_) => Subscriber::Known,
            None => Subscriber::Unknown,
        }
    }

    /// Collects the transmits of a proxy, answering its lookups from the
    /// store and reporting refused callers to the abuse guard.
    fn drain<S: LocationStore>(
        &self,
        p: &mut Proxy,
        store: &S,
        now_ms: u64,
        sends: &mut Vec<Transmit>,
    ) {
        while let Some(out) = p.poll_output() {
            match out {
                Output::Transmit(t) => sends.push(t),
                Output::Lookup(l) => {
                    let bindings = l
                        .aors
                        .iter()
                        .map(|aor| store.lookup(aor, now_ms))
                        .find(|b| !b.is_empty())
                        .unwrap_or_default();
                    let subscriber = if bindings.is_empty() {
                        l.aors
                            .first()
                            .map_or(Subscriber::Unchecked, |a| self.subscriber(a))
                    } else {
                        Subscriber::Known
                    };
                    p.handle_lookup(l.id, bindings, subscriber, now_ms);
                }
                Output::Refused { source, outcome } => {
                    self.security.on_refusal(&outcome, source, now_ms);
                }
            }
        }
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Proxy> {
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn shard_of_request(&self, msg: &Message) -> usize {
        let call_id = msg.header(HeaderName::CallId).unwrap_or("");
        (self.hasher.hash_one(call_id) % SHARDS as u64) as usize
    }

    /// Runs every proxy timer due at `now_ms`; returns what to send and the
    /// next deadline.
    pub(crate) fn timers<S: LocationStore>(
        &self,
        store: &S,
        now_ms: u64,
    ) -> (Vec<Transmit>, Option<u64>) {
        let mut sends = Vec::new();
        let mut next: Option<u64> = None;
        for i in 0..SHARDS {
            let mut p = self.lock(i);
            p.handle_timeout(now_ms);
            self.drain(&mut p, store, now_ms, &mut sends);
            if let Some(d) = p.poll_timeout() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        (sends, next)
    }
}

impl<S: LocationStore> Shared<S> {
    /// A request the router takes (or any ACK).
    pub(crate) fn route_request(self: &Arc<Self>, msg: Message, ctx: &RequestContext<'_>) {
        let now = crate::now_ms();
        let i = self.router().shard_of_request(&msg);
        let mut sends = Vec::new();
        {
            let mut p = self.router().lock(i);
            p.handle_request(msg, ctx, now);
            self.router().drain(&mut p, self.store(), now, &mut sends);
        }
        self.dispatch_sends(sends);
    }

    /// A response received from downstream.
    pub(crate) fn route_response(self: &Arc<Self>, msg: Message) {
        let Some(i) = top_branch(&msg).and_then(shard_of_branch).map(usize::from) else {
            tracing::debug!("response not for one of our branches dropped");
            return;
        };
        if i >= SHARDS {
            return;
        }
        let now = crate::now_ms();
        let mut sends = Vec::new();
        {
            let mut p = self.router().lock(i);
            p.handle_response(msg, now);
            self.router().drain(&mut p, self.store(), now, &mut sends);
        }
        self.dispatch_sends(sends);
    }

    fn transport_error(self: &Arc<Self>, branch: &str) {
        let Some(i) = shard_of_branch(branch)
            .map(usize::from)
            .filter(|i| *i < SHARDS)
        else {
            return;
        };
        let now = crate::now_ms();
        let mut sends = Vec::new();
        {
            let mut p = self.router().lock(i);
            p.handle_transport_error(branch, now);
            self.router().drain(&mut p, self.store(), now, &mut sends);
        }
        self.dispatch_sends(sends);
    }

    /// Sends what the proxy output and wakes the timer loop (a new timer
    /// may be earlier than the one it sleeps on).
    pub(crate) fn dispatch_sends(self: &Arc<Self>, sends: Vec<Transmit>) {
        for t in sends {
            self.send_transmit(t);
        }
        self.wake_timers();
    }

    /// Sends one message the proxy output.
    pub(crate) fn send_transmit(self: &Arc<Self>, t: Transmit) {
        match (t.dest.transport, &t.dest.addr) {
            (Transport::Udp, HopAddr::Socket(addr)) => {
                if let Some(sock) = self.udp_socket_for(t.dest.local, *addr) {
                    if sock.send_to(&t.bytes, *addr).is_ok() {
                        return;
                    }
                }
                self.spawn_transmit(t);
            }
            (Transport::Tcp, HopAddr::Socket(addr)) => {
                if let Some(conn) = self.connections().get(*addr) {
                    if conn.send(t.bytes.clone()).is_ok() {
                        return;
                    }
                }
                self.spawn_transmit(t);
            }
            _ => self.spawn_transmit(t),
        }
    }

    /// Sends that need to wait: a name to resolve, a connection to open,
    /// or a second try after a failed UDP send.
    fn spawn_transmit(self: &Arc<Self>, t: Transmit) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send_slow(&t.dest, t.bytes).await {
                tracing::info!(dest = ?t.dest.addr, error = %e, "send failed");
                if let Some(branch) = t.branch {
                    this.transport_error(&branch);
                }
            }
        });
    }

    async fn send_slow(self: &Arc<Self>, dest: &Destination, bytes: Bytes) -> std::io::Result<()> {
        match dest.transport {
            Transport::Udp => {
                let addr = resolve(&dest.addr).await?;
                let sock = self.udp_socket_for(dest.local, addr).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no udp socket to send from")
                })?;
                sock.send_to(&bytes, addr).map(|_| ())
            }
            Transport::Tcp => {
                if let HopAddr::Socket(addr) = &dest.addr {
                    if let Some(conn) = self.connections().get(*addr) {
                        if conn.send(bytes.clone()).is_ok() {
                            return Ok(());
                        }
                    }
                }
                // No open connection: connect to the contact (fallback) or
                // to the address itself.
                let target = dest.fallback.as_ref().unwrap_or(&dest.addr);
                let addr = resolve(target).await?;
                let conn = match self.connections().get(addr) {
                    Some(c) => c,
                    None => crate::tcp::connect(self, addr, dest.local).await?,
                };
                conn.send(bytes).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "connection closed")
                })
            }
        }
    }
}

/// A next hop's address: literal, or the first A/AAAA record of the name
/// (RFC 3263 §4.2 without NAPTR and SRV).
async fn resolve(addr: &HopAddr) -> std::io::Result<SocketAddr> {
    match addr {
        HopAddr::Socket(a) => Ok(*a),
        HopAddr::Name(host, port) => tokio::net::lookup_host((host.as_str(), *port))
            .await?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host")
            }),
    }
}
