//! The vocabulary the gateway and its dashboard share.
//!
//! Each closed set of names (wire formats, auth styles, strategies, request outcomes) is one enum
//! here with one spelling table: serde, SQLite and the dashboard's lists all read it, so adding a
//! variant is a compile error wherever a `match` must handle it. The API views the dashboard reads
//! live here too, so the two sides cannot drift. Serde only: this crate builds for wasm.

pub mod views;
mod vocab;

pub use vocab::{AccountStrategy, AuthStyle, ComboStrategy, Format, Outcome, UnknownName};
