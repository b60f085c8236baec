//! Pure rules and types of UEC accounts and relying parties: no actix, no diesel, no I/O.

pub mod access;
pub mod account;
pub mod authn;
pub mod client;
pub mod client_address;
pub mod compliance;
pub mod lifecycle;
pub mod network_zone;
pub mod outbound;
pub mod password;
pub mod reissue;
pub mod second_factor;
pub mod throttle;
