//! A response as the core decides it, before it is written.

use std::borrow::Cow;

/// A response decided by the core: status, reason and extra headers; the
/// headers copied from the request are added when it is written
/// (by the `response` module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub code: u16,
    /// Reason phrase (names the defect for errors).
    pub reason: Cow<'static, str>,
    /// Extra headers, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with no extra headers.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}
