//! uec-idp: the OpenID Connect identity provider behind the UEC account.
//!
//! Layers, outermost first: `cli` and `web` (adapters) call `services` (use-cases),
//! which call `domain` and `oidc` (pure rules and protocol, no I/O) and `store`
//! (diesel only). `.ci/run` checks that `domain/` and `oidc/` import neither
//! actix-web nor diesel.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hashing;
pub mod mail;
pub mod oidc;
pub mod secrets;
pub mod server_secret;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
