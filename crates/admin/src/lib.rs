//! The admin listener of locus (work in progress).
