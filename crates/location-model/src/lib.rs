//! The data model of the location service (RFC 3261 §10), shared by the
//! sans-IO protocol core (`sip-core`) and the store backends (`location`,
//! later networked ones), so that the core never links a database:
//!
//! - [`Binding`] and [`ContactAction`]: what a REGISTER stores per contact;
//! - [`User`], [`Ha1Set`], [`UserDirectory`] and [`UserStore`]: the
//!   accounts of digest authentication;
//! - the store seam: [`LocationStore`], one versioned compare-and-set per
//!   address-of-record ([`Snapshot`], [`Version`], [`Written`]), and
//!   [`StoreError`], which carries no backend types;
//! - what operations need besides: [`Counts`], a paged listing
//!   ([`ListQuery`], [`Page`]) and commit timings ([`StoreObserver`]).

#![warn(missing_docs)]

mod account;
mod binding;
mod error;
mod listing;
mod store;

pub use account::{Ha1Set, User, UserDirectory, UserStore};
pub use binding::{Binding, ContactAction};
pub use error::StoreError;
pub use listing::{Counts, ListQuery, Page, StoreObserver};
pub use store::{Done, LocationStore, Snapshot, Version, Written};
