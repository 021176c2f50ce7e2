//! The Amazon States Language: loading, validation, compilation and the pure evaluation pieces
//! (paths, intrinsic functions, JSONata, payload templates, Choice rules, error names).
//!
//! Nothing in here performs I/O or reads the clock; randomness comes in through callers.

pub mod checker;
pub mod choice;
pub mod distributed;
pub mod errors;
pub mod graph;
pub mod intrinsics;
pub mod jsonata;
pub mod load;
pub mod model;
pub mod path;
pub mod payload;
pub mod validate;

#[cfg(test)]
mod proptests;

/// Hash maps keyed by state names: foldhash is several times faster than SipHash on short
/// keys and still seeded per process, so a hostile definition cannot pick colliding names.
pub(crate) type NameMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The set form of [`NameMap`].
pub(crate) type NameSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
