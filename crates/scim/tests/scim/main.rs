//! The SCIM crate's tests, in one binary: the grammar and parsers, rendering, and the service
//! driven against an in-memory store, as the gateway drives it against the directory.

mod apply;
mod filter;
mod fuzz;
mod matching;
mod memory;
mod patch;
mod query;
mod render;
mod resource;
mod schemas;
mod service;
