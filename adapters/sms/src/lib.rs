//! SMS provider adapters. Today: the console provider, a development tool.

pub mod console;

pub use console::{ConsoleLine, ConsoleSms};
