//! The changes of the location store the server announces as they are
//! stored: what the admin API's live feed shows.

use location_model::Binding;

/// A change of the location store made through this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The whole set of an AOR, as written (empty: the AOR is gone).
    Stored {
        /// The AOR.
        aor: String,
        /// Its bindings now.
        bindings: Vec<Binding>,
    },
    /// These bindings expired and left the store.
    Expired {
        /// The bindings that expired.
        bindings: Vec<Binding>,
    },
}
