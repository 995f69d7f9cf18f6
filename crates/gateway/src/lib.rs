//! The `portico` server: HTTP routes, the console, the admin API, configuration, telemetry.
//! Domain rules live in the `directory` crate, protocol engines in `sso` and `scim`; `app` is
//! what Portico does with them (connections, sign-ins, SCIM's storage), and the HTTP modules
//! (`api`, `console`, `signin`, `provisioning`) turn requests into calls to `app` and its
//! answers into pages, JSON and status codes, without importing each other.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod console;
pub mod deliveries;
pub mod error;
pub mod health;
pub mod jobs;
pub mod oauth2;
pub mod observe;
pub mod provisioning;
pub mod proxy;
pub mod respond;
pub mod secrets;
pub mod signin;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
