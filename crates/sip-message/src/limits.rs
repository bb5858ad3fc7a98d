//! Hard limits applied before any allocation, so that a hostile peer cannot
//! make the parser spend memory or time in proportion to its input.

/// Upper bounds for one SIP message. The defaults suit a registrar: far above
/// what a real REGISTER needs, far below what would hurt the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line, headers and body) in bytes.
    pub max_message_size: usize,
    /// Most header lines (after unfolding) in one message.
    pub max_headers: usize,
    /// Longest single header (including folded continuation lines) or start line.
    pub max_line_length: usize,
    /// Longest URI accepted anywhere in the message.
    pub max_uri_length: usize,
    /// Largest message, in bytes from its first octet to the end of its body,
    /// that a [`crate::StreamFramer`] reads past and drops when it is larger
    /// than `max_message_size`, so that the sender can be answered 513 and
    /// the connection kept (RFC 3261 §21.5.14). A larger message, or one
    /// whose headers do not end within this many bytes, is an error and the
    /// connection must be closed. Skipped bytes are counted, never buffered:
    /// this bounds the time spent on one message, not the memory.
    pub max_discard: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 128,
            max_line_length: 8_192,
            max_uri_length: 2_048,
            // 1 MiB, 16 times the default `max_message_size`: a real client
            // that overshoots (a large SDP or MESSAGE body) is still answered
            // and keeps its flow, while a peer that streams without end is
            // cut off after reading what 16 maximal messages would cost.
            max_discard: 1 << 20,
        }
    }
}
