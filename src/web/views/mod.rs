//! Pages, rendered with maud (escaped by default). Views take plain values, never state.

pub mod access;
pub mod account;
pub mod consent;
pub mod developer;
pub mod error;
pub mod layout;
pub mod login;
pub mod logout;
pub mod passkeys;
pub mod password;
pub mod reissue;
pub mod second_factor;
