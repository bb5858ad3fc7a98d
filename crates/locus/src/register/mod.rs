//! `locus register`: the registration client. A thin tokio driver around
//! the sans-IO [`sip_core::client::Registration`]: it finds the registrar
//! (flag, RFC 3263 DNS, or multicast), owns the UDP socket or TCP
//! connection, feeds responses and timer expiries to the state machine,
//! and prints what the registrar answered.

mod args;
mod output;
mod resolve;

pub use args::RegisterArgs;

use args::{Mode, Plan};
use bytes::Bytes;
use output::Printer;
use sip_core::client::{Destination, Event, Failure, Operation, Registration};
use sip_core::Transport;
use sip_message::{Frame, Limits, StreamFramer};
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};

/// Exit status for a registrar's refusal, a timeout or a resolution failure.
const EXIT_FAILED: u8 = 1;

/// Runs `locus register`; returns the process exit code.
pub fn run(args: RegisterArgs) -> ExitCode {
    let plan = match args::plan(args) {
        Ok(p) => p,
        Err(e) => crate::exit::invalid(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("locus: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    runtime.block_on(drive(plan))
}

/// The socket requests leave from.
enum Link {
    Udp(UdpSocket),
    Tcp {
        stream: TcpStream,
        framer: StreamFramer,
        peer: SocketAddr,
    },
}

impl Link {
    /// Opens a link able to reach `dest`; returns it and its local address.
    async fn open(dest: Destination, multicast: bool) -> io::Result<(Link, SocketAddr)> {
        match dest.transport {
            Transport::Udp => {
                // The local address of the route to the destination, so Via
                // and the derived contact name a reachable address.
                let any: SocketAddr = if dest.addr.is_ipv4() {
                    "0.0.0.0:0".parse().expect("literal")
                } else {
                    "[::]:0".parse().expect("literal")
                };
                let probe = std::net::UdpSocket::bind(any)?;
                probe.connect(dest.addr)?;
                let ip = probe.local_addr()?.ip();
                drop(probe);
                let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
                if multicast {
                    // RFC 3261 §10.2.6: TTL 1 for multicast registration.
                    sock.set_multicast_ttl_v4(1)?;
                }
                let local = sock.local_addr()?;
                Ok((Link::Udp(sock), local))
            }
            Transport::Tcp => {
                let stream =
                    tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(dest.addr))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
                        })??;
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr()?;
                Ok((
                    Link::Tcp {
                        stream,
                        framer: StreamFramer::new(Limits::default()),
                        peer: dest.addr,
                    },
                    local,
                ))
            }
        }
    }

    fn serves(&self, dest: Destination) -> bool {
        match self {
            Link::Udp(s) => {
                dest.transport == Transport::Udp
                    && s.local_addr()
                        .is_ok_and(|l| l.is_ipv4() == dest.addr.is_ipv4())
            }
            Link::Tcp { peer, .. } => dest.transport == Transport::Tcp && *peer == dest.addr,
        }
    }

    async fn send(&mut self, dest: SocketAddr, payload: &[u8]) -> io::Result<()> {
        match self {
            Link::Udp(s) => s.send_to(payload, dest).await.map(|_| ()),
            Link::Tcp { stream, .. } => stream.write_all(payload).await,
        }
    }

    /// The next message received (cancel-safe).
    async fn recv(&mut self) -> io::Result<(Bytes, Option<SocketAddr>)> {
        match self {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_535];
                let (n, from) = s.recv_from(&mut buf).await?;
                buf.truncate(n);
                Ok((Bytes::from(buf), Some(from)))
            }
            Link::Tcp {
                stream,
                framer,
                peer,
            } => loop {
                match framer.next_frame() {
                    Ok(Some(Frame::Message(b))) => return Ok((b, Some(*peer))),
                    // A message too large to be a registrar's answer: the
                    // framer skips it.
                    Ok(Some(Frame::Ping | Frame::TooLarge(_))) => continue,
                    Ok(None) => {}
                    Err(e) => {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
                    }
                }
                let n = stream.read_buf(framer.buffer_mut()).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "the registrar closed the connection",
                    ));
                }
            },
        }
    }
}

struct Driver {
    plan: Plan,
    reg: Registration,
    link: Option<Link>,
    targets: Vec<Destination>,
    next_target: usize,
    printer: Printer,
    start: Instant,
    /// Set once the final outcome is known.
    exit: Option<u8>,
    stopping: bool,
}

impl Driver {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Makes `dest` the destination, opening a link for it first.
    async fn use_destination(&mut self, dest: Destination) -> io::Result<()> {
        if !self.link.as_ref().is_some_and(|l| l.serves(dest)) {
            let (link, local) = Link::open(dest, self.plan.multicast).await?;
            self.link = Some(link);
            self.reg.set_local(local);
        }
        let now = self.now();
        self.reg.set_destination(dest, now);
        Ok(())
    }

    /// Moves to the next resolved target; false when there is none.
    async fn fail_over(&mut self) -> bool {
        while self.next_target < self.targets.len() {
            let dest = self.targets[self.next_target];
            self.next_target += 1;
            if self.next_target > 1 {
                self.printer.note(&format!(
                    "trying the next registrar address: {}",
                    show_dest(dest)
                ));
            }
            match self.use_destination(dest).await {
                Ok(()) => return true,
                Err(e) => self.printer.note(&format!("{}: {e}", show_dest(dest))),
            }
        }
        false
    }

    async fn flush(&mut self) {
        while let Some(t) = self.reg.poll_transmit() {
            // A retransmission on a link that died is dropped; Timer F ends it.
            if !self.link.as_ref().is_some_and(|l| l.serves(t.destination)) {
                if t.retransmission {
                    continue;
                }
                match Link::open(t.destination, self.plan.multicast).await {
                    Ok((link, local)) => {
                        self.link = Some(link);
                        self.reg.set_local(local);
                    }
                    Err(e) => {
                        let now = self.now();
                        self.reg.handle_transport_error(&e.to_string(), now);
                        continue;
                    }
                }
            }
            let local = self.local_text();
            self.printer.sent(&t, &local);
            let link = self.link.as_mut().expect("opened above");
            if let Err(e) = link.send(t.destination.addr, &t.payload).await {
                if matches!(link, Link::Tcp { .. }) {
                    self.link = None;
                }
                let now = self.now();
                self.reg.handle_transport_error(&e.to_string(), now);
            }
        }
    }

    fn local_text(&self) -> String {
        match &self.link {
            Some(Link::Udp(s)) => s.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            Some(Link::Tcp { stream, .. }) => stream
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    async fn on_events(&mut self) {
        while let Some(e) = self.reg.poll_event() {
            match e {
                Event::Success {
                    operation,
                    code,
                    granted,
                } => {
                    // Once a registrar answered, no more failover.
                    self.next_target = self.targets.len();
                    let dest = self.reg.destination();
                    self.printer.success(
                        &operation,
                        code,
                        granted,
                        dest,
                        self.reg.bindings(),
                        self.reg.state(),
                        self.now(),
                    );
                    let done = match self.plan.mode {
                        Mode::Refresh => operation == Operation::Unregister,
                        _ => true,
                    };
                    if done {
                        self.exit = Some(0);
                    }
                }
                Event::Redirect { uri } => {
                    self.printer.note(&format!("redirected to {uri}"));
                    let resolved = self
                        .plan
                        .resolver
                        .resolve_uri(&uri, self.plan.transport)
                        .await;
                    match resolved {
                        Ok(list) if !list.is_empty() => {
                            self.targets = list;
                            self.next_target = 0;
                            if !self.fail_over().await {
                                self.fail(&format!("cannot reach the redirect target {uri}"));
                            }
                        }
                        Ok(_) => self.fail(&format!("redirect target {uri} has no address")),
                        Err(e) => self.fail(&format!("cannot resolve redirect target {uri}: {e}")),
                    }
                }
                Event::Retrying {
                    failure,
                    retry_at_ms,
                } => {
                    let failover = matches!(failure, Failure::Timeout | Failure::Transport(_))
                        && self.next_target < self.targets.len();
                    self.printer.note(&format!("{failure}"));
                    if failover && self.fail_over().await {
                        continue;
                    }
                    let wait = retry_at_ms.saturating_sub(self.now()) / 1000;
                    self.printer.note(&format!("retrying in {wait} s"));
                }
                Event::Failed { operation, failure } => {
                    let failover = matches!(failure, Failure::Timeout | Failure::Transport(_))
                        && self.next_target < self.targets.len();
                    if failover {
                        self.printer.note(&format!("{failure}"));
                        if self.fail_over().await {
                            let now = self.now();
                            self.reg.start(operation, now);
                            continue;
                        }
                    }
                    self.printer.failure(&operation, &failure);
                    self.exit = Some(EXIT_FAILED);
                }
            }
        }
    }

    /// SIGINT/SIGTERM: unregister (once); true when asked a second time,
    /// to exit without waiting.
    fn stop_requested(&mut self) -> bool {
        if self.stopping {
            eprintln!("locus: interrupted again, exiting without waiting");
            return true;
        }
        self.stopping = true;
        let now = self.now();
        if self.reg.stop(now) {
            self.printer.note("stopping: removing this UA's bindings");
        }
        false
    }

    fn fail(&mut self, message: &str) {
        eprintln!("locus: error: {message}");
        self.exit = Some(EXIT_FAILED);
    }
}

fn show_dest(d: Destination) -> String {
    format!("{}:{}", d.transport.as_str(), d.addr)
}

async fn drive(plan: Plan) -> ExitCode {
    let targets = match plan.find_registrar().await {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => {
            eprintln!("locus: error: no address found for the registrar");
            return ExitCode::from(EXIT_FAILED);
        }
        Err(e) => {
            eprintln!("locus: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let reg = Registration::new(plan.registration.clone());
    let printer = Printer::new(plan.json, plan.verbose, plan.aor.clone());
    let mut d = Driver {
        reg,
        link: None,
        targets,
        next_target: 0,
        printer,
        start: Instant::now(),
        exit: None,
        stopping: false,
        plan,
    };
    if !d.fail_over().await {
        eprintln!("locus: error: cannot reach the registrar");
        return ExitCode::from(EXIT_FAILED);
    }
    let op = d.plan.mode.operation();
    let now = d.now();
    d.reg.start(op, now);

    let (mut sigint, mut sigterm) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        _ => {
            eprintln!("locus: error: cannot install signal handlers");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    loop {
        d.flush().await;
        d.on_events().await;
        d.flush().await;
        if let Some(code) = d.exit {
            return ExitCode::from(code);
        }
        if d.stopping && d.reg.is_idle() {
            return ExitCode::SUCCESS;
        }
        let deadline = d
            .reg
            .poll_timeout()
            .map(|t| d.start + Duration::from_millis(t));
        let link = d.link.as_mut();
        tokio::select! {
            r = async {
                match link {
                    Some(l) => l.recv().await,
                    None => std::future::pending().await,
                }
            } => match r {
                Ok((bytes, from)) => {
                    d.printer.received(&bytes, from);
                    let now = d.now();
                    d.reg.handle_response(bytes, now);
                }
                Err(e) => {
                    d.link = None;
                    let now = d.now();
                    d.reg.handle_transport_error(&e.to_string(), now);
                }
            },
            _ = async {
                match deadline {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending::<()>().await,
                }
            } => {
                let now = d.now();
                d.reg.handle_timeout(now);
            }
            _ = sigint.recv() => {
                if d.stop_requested() {
                    return ExitCode::from(130);
                }
                if d.stopping && d.reg.is_idle() {
                    return ExitCode::SUCCESS;
                }
            }
            _ = sigterm.recv() => {
                if d.stop_requested() {
                    return ExitCode::from(130);
                }
                if d.stopping && d.reg.is_idle() {
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
}
