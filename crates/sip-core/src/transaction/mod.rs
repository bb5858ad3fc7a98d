//! The transaction layer of RFC 3261 §17, one implementation per role,
//! shared by the registrar, the proxy and the registration client:
//!
//! - [`key`]: how a request is matched to its server transaction (§17.2.3);
//! - [`server`]: server transactions and the table that holds them;
//! - [`client`]: client transactions;
//! - [`timers`]: T1, T2, T4 and Timers B to M, defined once, and the queue
//!   their deadlines wait in.

pub mod client;
pub mod key;
pub mod server;
pub mod timers;

pub use client::{ClientEvent, ClientState, ClientTimeout, ClientTransaction};
pub use key::{KeyHasher, TransactionKey};
pub use server::{
    AckOutcome, Match, Retransmission, ServerEntry, ServerState, ServerTable, ServerTimeout,
    ServerTransaction,
};
pub use timers::TimerQueue;
