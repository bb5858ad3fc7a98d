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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 128,
            max_line_length: 8_192,
            max_uri_length: 2_048,
        }
    }
}
