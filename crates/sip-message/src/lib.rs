//! The SIP message layer of locus: a zero-copy parser for requests and
//! responses (datagram and stream framing), typed views of the headers the
//! protocol core needs, URIs and name-addr with RFC 3261 §19.1.4 comparison,
//! and a serializer for the messages locus sends.
//!
//! Nothing here does I/O or reads a clock. Parsing is done in two steps, as
//! hyper does for HTTP/1: one scan of the buffer records the start line and
//! the name and value ranges of every header (compact forms mapped to their
//! long names), then typed parsing happens on demand on slices of that one
//! buffer. Hard limits ([`Limits`]) are checked before anything is allocated,
//! and every defect is a [`ParseError`] naming it.

pub mod error;
pub mod header;
pub mod headers;
pub mod limits;
pub mod message;
pub mod name_addr;
pub mod params;
mod scan;
pub mod serialize;
pub mod stream;
pub mod uri;

pub use error::ParseError;
pub use header::HeaderName;
pub use limits::Limits;
pub use message::{Message, Method, StartLine};
pub use name_addr::NameAddr;
pub use params::Params;
pub use serialize::MessageWriter;
pub use stream::{Frame, StreamFramer};
pub use uri::{Host, SipUri, Uri};
