//! Unit tests of the macro's phases, on `proc_macro2` token streams.
mod expand;
mod shape;
mod snapshots;
