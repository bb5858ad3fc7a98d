//! The RFC 3261 §17 timer base values, in milliseconds.

/// T1: RTT estimate.
pub(crate) const T1: u64 = 500;
/// T2: longest retransmit interval for non-INVITE requests and INVITE responses.
pub(crate) const T2: u64 = 4000;
/// T4: how long a message may remain in the network.
pub(crate) const T4: u64 = 5000;
