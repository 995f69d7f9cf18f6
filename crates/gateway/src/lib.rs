//! The `portico` server: HTTP routes, the console, the admin API, configuration, telemetry.
//! Domain rules live in the `directory` crate; this crate turns requests into calls to it and
//! its answers into pages, JSON and status codes.

pub mod api;
pub mod auth;
pub mod config;
pub mod console;
pub mod error;
pub mod health;
pub mod jobs;
pub mod observe;
pub mod provisioning;
pub mod proxy;
pub mod secrets;
pub mod signin;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
