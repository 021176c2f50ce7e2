//! The Amazon States Language: loading, validation, compilation and the pure evaluation pieces
//! (paths, intrinsic functions, JSONata, payload templates, Choice rules, error names).
//!
//! Nothing in here performs I/O or reads the clock; randomness comes in through callers.

pub mod checker;
pub mod choice;
pub mod distributed;
pub mod errors;
pub mod intrinsics;
pub mod jsonata;
pub mod load;
pub mod model;
pub mod path;
pub mod payload;
pub mod validate;

#[cfg(test)]
mod proptests;
