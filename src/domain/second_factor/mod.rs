//! Second factors: what each method is and how it is checked (DOMAIN.md "Second factor and
//! networks"). Storage and enrolment live in `store/` and `services/`.

pub mod backup_codes;
pub mod email_otp;
pub mod passkey;
pub mod totp;
