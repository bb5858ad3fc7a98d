//! One worker of `locus bench`: one socket (a connected UDP socket or one
//! TCP connection) driven by one task on its own thread, holding the
//! [`Registration`]s of its share of the AORs.
//!
//! The loop is lean on purpose, so that the generator costs less per
//! registration than the server:
//! - every AOR has a slot; an operation is one sans-IO [`Registration`]
//!   operation (at most one in flight per AOR);
//! - responses are routed to their slot by the Call-ID, which carries the
//!   worker and slot numbers (`b{worker}.{slot}.{seq}.{run}@locus-bench`):
//!   no map look-up; the state machine then checks branch and CSeq;
//! - the timers of every outstanding transaction (Timer E/F, `--timeout`)
//!   are in one binary heap with lazy deletion: an entry is acted on only
//!   if it is still the slot's armed deadline;
//! - datagrams are read until the socket is drained and requests are
//!   written in a batch per wake-up.

use super::args::{BenchMode, Plan};
use super::stats::{failure_key, OpKind, Stats};
use bytes::{Bytes, BytesMut};
use sip_core::client::{Destination, Event, Operation, Registration, RegistrationConfig};
use sip_core::Transport;
use sip_message::{Frame, Limits, StreamFramer};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpStream, UdpSocket};

/// No heap entry armed.
const UNARMED: u64 = u64::MAX;
/// Datagrams / stream reads handled per wake-up before timers and sends
/// get their turn.
const READ_BATCH: usize = 512;
/// Socket buffer size asked for (the kernel may grant less).
const SOCKET_BUFFER: libc::c_int = 4 << 20;
/// `User-Agent` of the generated requests.
const USER_AGENT: &str = concat!("locus-bench/", env!("CARGO_PKG_VERSION"));

/// Counters shared by the workers and the progress bar.
#[derive(Debug, Default)]
pub struct Shared {
    /// Operations claimed by the workers in the measured phase.
    pub claimed: AtomicU64,
    /// Operations ended (success or failure) in the current phase.
    pub ended: AtomicU64,
    /// Successes in the current phase.
    pub ok: AtomicU64,
}

/// What one phase asks of a worker.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    /// Setup: register each of the worker's AORs once.
    pub setup: bool,
    /// When the phase started (pacing reference).
    pub start: Instant,
    /// No operation is started after this.
    pub stop_at: Instant,
    /// Operations per second for this worker (None: as fast as the window allows).
    pub rate: Option<f64>,
    /// Most operations outstanding in this worker.
    pub window: usize,
    /// Total operations of the measured phase, over all workers.
    pub count: u64,
}

/// A socket opened before the worker's thread starts (so errors are
/// reported before any load is sent).
pub enum StdLink {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpStream),
}

/// Opens the socket of one worker, connected to the target.
pub fn open(plan: &Plan) -> io::Result<StdLink> {
    use std::os::fd::AsRawFd;
    let target = plan.target;
    match plan.transport {
        Transport::Udp => {
            let any: SocketAddr = if target.is_ipv4() {
                "0.0.0.0:0".parse().expect("literal")
            } else {
                "[::]:0".parse().expect("literal")
            };
            let sock = std::net::UdpSocket::bind(any)?;
            sock.connect(target)?;
            sock.set_nonblocking(true)?;
            grow_buffers(sock.as_raw_fd());
            Ok(StdLink::Udp(sock))
        }
        Transport::Tcp => {
            let stream = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            grow_buffers(stream.as_raw_fd());
            Ok(StdLink::Tcp(stream))
        }
    }
}

/// Asks for large socket buffers, so bursts are not dropped by the kernel.
fn grow_buffers(fd: libc::c_int) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let size = SOCKET_BUFFER;
        let p = &size as *const libc::c_int as *const libc::c_void;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: fd is an open socket; the option value is a c_int that
        // outlives the call. A refusal only leaves the default size.
        unsafe {
            if libc::setsockopt(fd, libc::SOL_SOCKET, force, p, len) != 0 {
                libc::setsockopt(fd, libc::SOL_SOCKET, plain, p, len);
            }
        }
    }
}

/// The worker's socket.
enum Link {
    Udp {
        sock: UdpSocket,
        /// Requests not yet sent: slot, its operation number, bytes.
        out: VecDeque<(u32, u32, Bytes)>,
        buf: BytesMut,
    },
    Tcp {
        stream: TcpStream,
        out: Vec<u8>,
        framer: StreamFramer,
        dead: bool,
    },
}

impl Link {
    fn from_std(l: StdLink) -> io::Result<Link> {
        Ok(match l {
            StdLink::Udp(s) => Link::Udp {
                sock: UdpSocket::from_std(s)?,
                out: VecDeque::new(),
                buf: BytesMut::with_capacity(256 * 1024),
            },
            StdLink::Tcp(s) => Link::Tcp {
                stream: TcpStream::from_std(s)?,
                out: Vec::with_capacity(64 * 1024),
                framer: StreamFramer::new(Limits::default()),
                dead: false,
            },
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Link::Udp { sock, .. } => sock.local_addr(),
            Link::Tcp { stream, .. } => stream.local_addr(),
        }
    }

    fn queue(&mut self, slot: u32, seq: u32, payload: Bytes) {
        match self {
            Link::Udp { out, .. } => out.push_back((slot, seq, payload)),
            Link::Tcp { out, dead, .. } => {
                if !*dead {
                    out.extend_from_slice(&payload);
                }
            }
        }
    }

    fn has_out(&self) -> bool {
        match self {
            Link::Udp { out, .. } => !out.is_empty(),
            Link::Tcp { out, dead, .. } => !out.is_empty() && !*dead,
        }
    }

    async fn readable(&self) -> io::Result<()> {
        match self {
            Link::Udp { sock, .. } => sock.readable().await,
            Link::Tcp { dead: true, .. } => std::future::pending().await,
            Link::Tcp { stream, .. } => stream.readable().await,
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            Link::Udp { sock, .. } => sock.writable().await,
            Link::Tcp { dead: true, .. } => std::future::pending().await,
            Link::Tcp { stream, .. } => stream.writable().await,
        }
    }
}

/// One AOR of this worker.
struct Slot {
    /// The user index (`u{user}@domain`).
    user: u32,
    /// Its registration; None until the first operation, and after a failure.
    reg: Option<Registration>,
    /// Number of the slot's current (or last) operation.
    seq: u32,
    /// When the outstanding operation started; None when idle.
    started: Option<Instant>,
    /// When the outstanding operation is given up (`--timeout`), in ms.
    deadline_ms: u64,
    /// The deadline of the heap entry in force.
    armed: u64,
    kind: OpKind,
    /// Position in the mixed cycle.
    step: u8,
    /// True after a successful registration not removed since.
    registered: bool,
}

/// What woke the loop.
enum Wake {
    Readable,
    Writable,
    Timer,
}

/// One worker. See the module documentation.
pub struct Worker {
    id: u32,
    mode: BenchMode,
    aor_prefix: String,
    domain: String,
    request_uri: String,
    expires: Option<u32>,
    password: Option<String>,
    timeout_ms: u64,
    drain: Duration,
    run_tag: u32,
    epoch: Instant,
    link: Link,
    local: SocketAddr,
    dest: Destination,
    slots: Vec<Slot>,
    idle: VecDeque<u32>,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    in_flight: usize,
    rng: u64,
    published: (u64, u64),
    /// Set when the TCP connection is lost: no more operations.
    dead: bool,
    /// What this worker counted in the current phase.
    pub stats: Stats,
}

impl Worker {
    /// A worker for the AORs `user_start + j` with `j % workers == id`.
    /// Must be called inside a tokio runtime.
    pub fn new(
        id: u32,
        workers: u32,
        plan: &Plan,
        link: StdLink,
        epoch: Instant,
        run_tag: u32,
    ) -> io::Result<Worker> {
        let link = Link::from_std(link)?;
        let local = link.local_addr()?;
        let slots: Vec<Slot> = (id..plan.users)
            .step_by(workers as usize)
            .map(|j| Slot {
                user: plan.user_start + j,
                reg: None,
                seq: 0,
                started: None,
                deadline_ms: 0,
                armed: UNARMED,
                kind: OpKind::Register,
                step: 0,
                registered: false,
            })
            .collect();
        let idle = (0..slots.len() as u32).collect();
        Ok(Worker {
            id,
            mode: plan.mode,
            aor_prefix: format!("sip:{}", plan.user_prefix),
            domain: plan.domain.clone(),
            request_uri: format!("sip:{}", plan.domain),
            expires: plan.expires,
            password: plan.password.clone(),
            timeout_ms: plan.timeout.as_millis().max(1) as u64,
            drain: plan.drain,
            run_tag,
            epoch,
            link,
            local,
            dest: Destination {
                transport: plan.transport,
                addr: plan.target,
            },
            slots,
            idle,
            heap: BinaryHeap::new(),
            in_flight: 0,
            rng: (u64::from(run_tag) << 32 | u64::from(id)) ^ 0x9E37_79B9_7F4A_7C15,
            published: (0, 0),
            dead: false,
            stats: Stats::default(),
        })
    }

    fn ms(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn next_rand(&mut self) -> u64 {
        // splitmix64: seeds of the state machines' own generators.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Runs one phase to its end: until its operations are done (the
    /// setup's, or the shared count), or `stop_at`; then waits for the
    /// outstanding ones at most `--drain`, and counts those left as timeouts.
    pub async fn run_phase(&mut self, spec: &PhaseSpec, shared: &Shared) {
        self.stats = Stats::default();
        self.published = (0, 0);
        let setup_quota = self.slots.len() as u64;
        let mut issued: u64 = 0;
        let mut ending_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            self.fire_timers(now);
            if ending_at.is_none() && (now >= spec.stop_at || self.dead) {
                ending_at = Some(now);
            }
            if ending_at.is_none() {
                let mut exhausted = false;
                while self.in_flight < spec.window {
                    if let Some(r) = spec.rate {
                        let due = (now - spec.start).as_secs_f64() * r;
                        if issued as f64 >= due.floor() + 1.0 {
                            break;
                        }
                    }
                    if spec.setup && issued >= setup_quota {
                        exhausted = true;
                        break;
                    }
                    let Some(idx) = self.idle.pop_front() else {
                        break;
                    };
                    if !spec.setup && shared.claimed.fetch_add(1, Ordering::Relaxed) >= spec.count {
                        self.idle.push_front(idx);
                        exhausted = true;
                        break;
                    }
                    let kind = if spec.setup {
                        OpKind::Register
                    } else {
                        self.next_kind(idx)
                    };
                    self.start_op(idx, kind, now);
                    issued += 1;
                }
                if exhausted {
                    ending_at = Some(now);
                }
            }
            self.flush(now);
            self.publish(shared);
            let mut wake = self
                .heap
                .peek()
                .map(|Reverse((t, _, _))| self.epoch + Duration::from_millis(*t));
            let mut earliest = |t: Instant| {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            };
            match ending_at {
                Some(e) => {
                    if self.in_flight == 0 || now >= e + self.drain {
                        break;
                    }
                    earliest(e + self.drain);
                }
                None => {
                    earliest(spec.stop_at);
                    if let Some(r) = spec.rate {
                        if self.in_flight < spec.window && !self.idle.is_empty() {
                            earliest(spec.start + Duration::from_secs_f64(issued as f64 / r));
                        }
                    }
                }
            }
            let wake = wake.unwrap_or(now + Duration::from_secs(1));
            let link = &self.link;
            let woke = tokio::select! {
                biased;
                r = link.readable() => match r {
                    Ok(()) => Wake::Readable,
                    Err(_) => Wake::Timer,
                },
                _ = link.writable(), if link.has_out() => Wake::Writable,
                _ = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            match woke {
                Wake::Readable => self.read(),
                Wake::Writable | Wake::Timer => {}
            }
        }
        // Still outstanding after the drain: no final response in time.
        let now = Instant::now();
        for idx in 0..self.slots.len() as u32 {
            if self.slots[idx as usize].started.is_some() {
                self.stats.unanswered += 1;
                self.finish(idx, Err("timeout".into()), now);
            }
        }
        self.heap.clear();
        if let Link::Udp { out, .. } = &mut self.link {
            out.clear();
        }
        self.publish(shared);
    }

    /// The kind of the next measured operation of a slot.
    fn next_kind(&self, idx: u32) -> OpKind {
        let s = &self.slots[idx as usize];
        let registered = s.registered && s.reg.is_some();
        match self.mode {
            BenchMode::Register => OpKind::Register,
            BenchMode::Refresh if registered => OpKind::Refresh,
            BenchMode::Refresh => OpKind::Register,
            BenchMode::Remove => OpKind::Remove,
            BenchMode::Mixed => match s.step {
                1 | 2 if registered => OpKind::Refresh,
                3 if registered => OpKind::Remove,
                _ => OpKind::Register,
            },
        }
    }

    fn start_op(&mut self, idx: u32, kind: OpKind, now: Instant) {
        let now_ms = self.ms(now);
        let fresh = kind == OpKind::Register || self.slots[idx as usize].reg.is_none();
        let kind = if fresh && kind == OpKind::Refresh {
            OpKind::Register
        } else {
            kind
        };
        let seq = self.slots[idx as usize].seq.wrapping_add(1);
        if fresh {
            let seed = self.next_rand();
            let user = self.slots[idx as usize].user;
            let cfg = RegistrationConfig {
                aor: format!("{}{}@{}", self.aor_prefix, user, self.domain),
                request_uri: self.request_uri.clone(),
                from: None,
                contacts: Vec::new(),
                expires: self.expires,
                instance: None,
                reg_id: None,
                username: None,
                password: self.password.clone(),
                user_agent: USER_AGENT.to_string(),
                call_id: Some(format!(
                    "b{:x}.{:x}.{:x}.{:08x}@locus-bench",
                    self.id, idx, seq, self.run_tag
                )),
                seed,
                refresh: false,
            };
            let mut reg = Registration::new(cfg);
            reg.set_local(self.local);
            reg.set_destination(self.dest, now_ms);
            self.slots[idx as usize].reg = Some(reg);
        }
        let s = &mut self.slots[idx as usize];
        s.seq = seq;
        s.kind = kind;
        s.started = Some(now);
        s.deadline_ms = now_ms + self.timeout_ms;
        s.armed = UNARMED;
        let op = match kind {
            OpKind::Remove => Operation::Unregister,
            OpKind::Register | OpKind::Refresh => Operation::Register,
        };
        s.reg.as_mut().expect("created above").start(op, now_ms);
        self.in_flight += 1;
        self.stats.started += 1;
        self.after(idx, now);
    }

    /// Collects what the slot's state machine wants after an input: its
    /// requests are queued, its outcome recorded, its next timer armed.
    fn after(&mut self, idx: u32, now: Instant) {
        let s = &mut self.slots[idx as usize];
        let Some(reg) = s.reg.as_mut() else {
            return;
        };
        while let Some(t) = reg.poll_transmit() {
            if t.retransmission {
                self.stats.retransmissions += 1;
            }
            self.link.queue(idx, s.seq, t.payload);
        }
        let mut outcome = None;
        while let Some(e) = reg.poll_event() {
            outcome = Some(match e {
                Event::Success { .. } => Ok(()),
                Event::Failed { failure, .. } | Event::Retrying { failure, .. } => {
                    Err(failure_key(&failure))
                }
                Event::Redirect { .. } => Err("3xx".to_string()),
            });
        }
        match outcome {
            Some(o) => self.finish(idx, o, now),
            None => {
                let t = reg.poll_timeout().unwrap_or(UNARMED).min(s.deadline_ms);
                if s.armed != t {
                    s.armed = t;
                    self.heap.push(Reverse((t, idx, s.seq)));
                }
            }
        }
    }

    /// Ends the slot's outstanding operation.
    fn finish(&mut self, idx: u32, outcome: Result<(), String>, now: Instant) {
        let s = &mut self.slots[idx as usize];
        let Some(started) = s.started.take() else {
            return;
        };
        s.armed = UNARMED;
        match outcome {
            Ok(()) => {
                let us = now.saturating_duration_since(started).as_micros() as u64;
                self.stats.success(s.kind, us, now);
                s.registered = s.kind != OpKind::Remove;
                s.step = (s.step + 1) % 4;
                if self.mode == BenchMode::Register {
                    // Never reused: keep memory flat for any number of users.
                    s.reg = None;
                }
            }
            Err(key) => {
                self.stats.failure(key, now);
                s.registered = false;
                s.step = 0;
                s.reg = None;
            }
        }
        self.in_flight -= 1;
        self.idle.push_back(idx);
    }

    fn fire_timers(&mut self, now: Instant) {
        let now_ms = self.ms(now);
        while let Some(&Reverse((t, idx, seq))) = self.heap.peek() {
            if t > now_ms {
                break;
            }
            self.heap.pop();
            let s = &mut self.slots[idx as usize];
            if s.seq != seq || s.armed != t || s.started.is_none() {
                continue; // superseded entry
            }
            s.armed = UNARMED;
            if now_ms >= s.deadline_ms {
                self.finish(idx, Err("timeout".into()), now);
                continue;
            }
            if let Some(reg) = s.reg.as_mut() {
                reg.handle_timeout(now_ms);
            }
            self.after(idx, now);
        }
    }

    /// Reads every message waiting on the socket (up to a batch).
    fn read(&mut self) {
        let mut messages: Vec<Bytes> = Vec::new();
        let mut lost: Option<String> = None;
        match &mut self.link {
            Link::Udp { sock, buf, .. } => {
                for _ in 0..READ_BATCH {
                    if buf.capacity() - buf.len() < 65_536 {
                        buf.reserve(256 * 1024);
                    }
                    match sock.try_recv_buf(buf) {
                        Ok(_) => messages.push(buf.split().freeze()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP port unreachable from an earlier datagram:
                        // the requests time out (or fail on send).
                        Err(_) => continue,
                    }
                }
            }
            Link::Tcp {
                stream,
                framer,
                dead,
                ..
            } => {
                for _ in 0..READ_BATCH {
                    let b = framer.buffer_mut();
                    if b.capacity() - b.len() < 16_384 {
                        b.reserve(64 * 1024);
                    }
                    match stream.try_read_buf(b) {
                        Ok(0) => {
                            lost = Some("the server closed the connection".into());
                            break;
                        }
                        Ok(_) => loop {
                            match framer.next_frame() {
                                Ok(Some(Frame::Message(m))) => messages.push(m),
                                // Too large to be an answer: the framer skips it.
                                Ok(Some(Frame::Ping | Frame::TooLarge(_))) => {}
                                Ok(None) => break,
                                Err(e) => {
                                    lost = Some(format!("unreadable stream from the server: {e}"));
                                    break;
                                }
                            }
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            lost = Some(e.to_string());
                            break;
                        }
                    }
                    if lost.is_some() {
                        break;
                    }
                }
                if lost.is_some() {
                    *dead = true;
                }
            }
        }
        let now = Instant::now();
        for m in messages {
            self.on_message(m, now);
        }
        if let Some(e) = lost {
            self.connection_lost(e, now);
        }
    }

    fn on_message(&mut self, msg: Bytes, now: Instant) {
        let now_ms = self.ms(now);
        let Some(idx) = route(&msg, self.id).filter(|&i| (i as usize) < self.slots.len()) else {
            self.stats.stray += 1;
            return;
        };
        let s = &mut self.slots[idx as usize];
        let Some(reg) = s.reg.as_mut().filter(|_| s.started.is_some()) else {
            self.stats.stray += 1;
            return;
        };
        if !reg.handle_response(msg, now_ms) {
            self.stats.stray += 1;
            return;
        }
        self.after(idx, now);
    }

    /// Sends what is queued, as far as the socket takes it now.
    fn flush(&mut self, now: Instant) {
        let mut failed: Vec<(u32, u32, String)> = Vec::new();
        let mut lost = None;
        match &mut self.link {
            Link::Udp { sock, out, .. } => {
                while let Some((idx, seq, payload)) = out.front() {
                    match sock.try_send(payload) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => failed.push((*idx, *seq, e.to_string())),
                    }
                    out.pop_front();
                }
            }
            Link::Tcp {
                stream, out, dead, ..
            } => {
                while !out.is_empty() && !*dead {
                    match stream.try_write(out) {
                        Ok(n) => {
                            out.drain(..n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            *dead = true;
                            out.clear();
                            lost = Some(e.to_string());
                        }
                    }
                }
            }
        }
        let now_ms = self.ms(now);
        if let Some((_, _, e)) = failed.first() {
            if self.stats.transport_error.is_none() {
                self.stats.transport_error = Some(format!("send: {e}"));
            }
        }
        for (idx, seq, e) in failed {
            let s = &mut self.slots[idx as usize];
            if s.seq == seq && s.started.is_some() {
                if let Some(reg) = s.reg.as_mut() {
                    reg.handle_transport_error(&e, now_ms);
                }
                self.after(idx, now);
            }
        }
        if let Some(e) = lost {
            self.connection_lost(e, now);
        }
    }

    /// The TCP connection failed: every outstanding operation fails, and
    /// the worker starts no more.
    fn connection_lost(&mut self, error: String, now: Instant) {
        self.dead = true;
        if self.stats.transport_error.is_none() {
            self.stats.transport_error = Some(error.clone());
        }
        let now_ms = self.ms(now);
        for idx in 0..self.slots.len() as u32 {
            let s = &mut self.slots[idx as usize];
            if s.started.is_none() {
                continue;
            }
            if let Some(reg) = s.reg.as_mut() {
                reg.handle_transport_error(&error, now_ms);
            }
            self.after(idx, now);
            if self.slots[idx as usize].started.is_some() {
                self.finish(idx, Err("transport".into()), now);
            }
        }
    }

    fn publish(&mut self, shared: &Shared) {
        let ended = self.stats.ended();
        let ok = self.stats.successes;
        let (e0, o0) = self.published;
        if ended != e0 {
            shared.ended.fetch_add(ended - e0, Ordering::Relaxed);
        }
        if ok != o0 {
            shared.ok.fetch_add(ok - o0, Ordering::Relaxed);
        }
        self.published = (ended, ok);
    }
}

/// The slot a response is for, from its Call-ID
/// (`b{worker:x}.{slot:x}.{seq:x}.{run:x}@locus-bench`), if it is one of
/// this worker's.
fn route(msg: &[u8], worker: u32) -> Option<u32> {
    let id = call_id(msg)?;
    let rest = id.strip_prefix(b"b")?;
    let mut parts = rest.splitn(3, |&b| b == b'.');
    let w = hex(parts.next()?)?;
    let slot = hex(parts.next()?)?;
    (w == worker).then_some(slot)
}

fn hex(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

/// The value of the Call-ID header (or its compact form `i`).
fn call_id(msg: &[u8]) -> Option<&[u8]> {
    let mut rest = &msg[memchr::memchr(b'\n', msg)? + 1..];
    loop {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        if line.is_empty() {
            return None;
        }
        if let Some(colon) = memchr::memchr(b':', line) {
            let name = line[..colon].trim_ascii();
            if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
                return Some(line[colon + 1..].trim_ascii());
            }
        }
        if end >= rest.len() {
            return None;
        }
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_call_id() {
        let msg = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKa\r\nCall-ID: b1.2f.3.0000abcd@locus-bench\r\nCSeq: 1 REGISTER\r\n\r\n";
        assert_eq!(route(msg, 1), Some(0x2f));
        assert_eq!(route(msg, 0), None, "another worker's");
        let compact = b"SIP/2.0 200 OK\r\ni :  b0.a.1.0@locus-bench \r\n\r\n";
        assert_eq!(route(compact, 0), Some(10));
        assert_eq!(
            route(b"SIP/2.0 200 OK\r\nCall-ID: other@x\r\n\r\n", 0),
            None
        );
        assert_eq!(
            route(b"SIP/2.0 200 OK\r\n\r\nCall-ID: b0.1.1.0@x", 0),
            None,
            "body"
        );
    }
}
