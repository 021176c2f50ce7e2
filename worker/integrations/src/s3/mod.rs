mod client;
mod tasks;

pub use client::*;
pub use tasks::*;
