//! What the admin side asks of a store besides the registrar's operations:
//! how much it holds, a listing page by page, and its commit timings.

use crate::Binding;
use std::time::Duration;

/// How many AORs and bindings a store holds, kept up to date as changes
/// happen (never counted by a scan). Bindings expired but not yet purged
/// still count; a purge follows their expiry within about a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Addresses-of-record with at least one binding.
    pub aors: u64,
    /// Bindings over all AORs.
    pub bindings: u64,
}

/// One request for a page of bindings ([`crate::LocationStore::list`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Where to go on from: the [`Page::next`] of the page before, as
    /// given (opaque); `None` starts at the beginning.
    pub cursor: Option<String>,
    /// Most AORs on the page (at least 1).
    pub limit: usize,
    /// Only bindings whose AOR, contact or User-Agent contains this text
    /// (ASCII case ignored).
    pub search: Option<String>,
}

/// One page of a listing: the live bindings of some AORs, each AOR's
/// bindings together. The work per page is bounded, so a page may hold
/// fewer than the limit (even none) and still have a next one; a listing
/// taken while bindings change may miss or repeat an AOR that moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The bindings found.
    pub bindings: Vec<Binding>,
    /// The cursor of the next page; `None` when the listing is complete.
    pub next: Option<String>,
}

/// Receives a durable backend's commit timings, for metrics.
pub trait StoreObserver: Send + Sync + 'static {
    /// A commit made `changes` changes durable and took `took` (from the
    /// start of the transaction to the end of its sync).
    fn committed(&self, took: Duration, changes: usize);
}
