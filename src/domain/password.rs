//! Password credentials: what kind a password is and when it stops working.

/// How a password came to be; decides whether and when it expires (DOMAIN.md "Passwords").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordKind {
    /// Printed on the notice at issue; expires 90 days after issue.
    Initial,
    /// From a desk reissue; expires after 30 days or less.
    Temporary,
    /// Chosen by the owner; never expires.
    Chosen,
}

impl PasswordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Temporary => "temporary",
            Self::Chosen => "chosen",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "initial" => Some(Self::Initial),
            "temporary" => Some(Self::Temporary),
            "chosen" => Some(Self::Chosen),
            _ => None,
        }
    }
}

/// A stored password credential.
#[derive(Clone, Debug)]
pub struct PasswordCredential {
    pub hash: String,
    pub kind: PasswordKind,
    pub expires_at: Option<i64>,
}

impl PasswordCredential {
    /// An expired password cannot sign in.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_expires_at_its_deadline_not_before() {
        let c = PasswordCredential {
            hash: String::new(),
            kind: PasswordKind::Initial,
            expires_at: Some(100),
        };
        assert!(!c.is_expired(99));
        assert!(c.is_expired(100));
        let chosen = PasswordCredential {
            expires_at: None,
            kind: PasswordKind::Chosen,
            ..c
        };
        assert!(!chosen.is_expired(i64::MAX));
    }
}
