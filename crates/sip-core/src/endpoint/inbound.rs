//! A received message parsed, and which endpoint instance it belongs to.

use crate::io::Received;
use crate::proxy::{shard_of_branch, top_branch};
use crate::transport::Transport;
use sip_message::{HeaderName, Limits, Message, ParseError};

/// A received message with its parse: what an endpoint instance handles.
/// Parsing happens once, before the instance is chosen.
#[derive(Debug)]
pub struct Inbound {
    /// The message as received.
    pub received: Received,
    /// Its parse (datagram or stream framing by transport).
    pub parsed: Result<Message, ParseError>,
}

impl Inbound {
    /// Parses `received` within `limits`.
    pub fn parse(received: Received, limits: &Limits) -> Inbound {
        let parsed = match received.transport {
            Transport::Udp => Message::parse(received.bytes.clone(), limits),
            Transport::Tcp => Message::parse_framed(received.bytes.clone(), limits),
        };
        Inbound { received, parsed }
    }

    /// Which of `shards` endpoint instances handles this message: a
    /// response goes to the instance whose branch it answers; a request to
    /// the instance of its Call-ID (so its retransmissions, CANCEL and ACK
    /// meet its transaction); anything else to the instance of its source.
    pub fn shard(&self, shards: usize) -> usize {
        let shards = shards.max(1);
        let key = match &self.parsed {
            Ok(msg) => {
                if !msg.is_request() {
                    if let Some(shard) = top_branch(msg).and_then(shard_of_branch) {
                        return usize::from(shard) % shards;
                    }
                }
                fnv(msg.header(HeaderName::CallId).unwrap_or("").as_bytes())
            }
            Err(_) => fnv(self.received.source.to_string().as_bytes()),
        };
        (key % shards as u64) as usize
    }
}

/// FNV-1a: the same instance for the same Call-ID in every process, with
/// no key to share.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
