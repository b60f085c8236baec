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

/// Why a new password is refused (DOMAIN.md: "one that can be easily broken is flagged").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Weakness {
    TooShort,
    ContainsAccountId,
    ContainsName,
    /// zxcvbn scores it below 3 (guessable within 10^8 tries), with its advice if any.
    Guessable(Option<String>),
}

impl Weakness {
    /// The reason, for the person choosing the password (English / Japanese).
    pub fn message(&self) -> String {
        match self {
            Self::TooShort => format!(
                "Use at least {MIN_LENGTH} characters. / {MIN_LENGTH}文字以上にしてください。"
            ),
            Self::ContainsAccountId => {
                "Do not use your account ID in the password. / パスワードにアカウントIDを含めないでください。".into()
            }
            Self::ContainsName => {
                "Do not use your name in the password. / パスワードに氏名を含めないでください。".into()
            }
            Self::Guessable(hint) => {
                let hint = hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                format!("This password is too easy to guess{hint}. Use a longer passphrase of unrelated words. / 推測されやすいパスワードです。")
            }
        }
    }
}

pub const MIN_LENGTH: usize = 8;
/// zxcvbn's score 3: "safely unguessable: moderate protection from offline slow-hash
/// scenarios" (fewer than 10^10 guesses).
const MIN_SCORE: u8 = 3;

/// The one strength rule, used when a password is chosen and when one signs in: at least
/// eight characters, neither the account ID nor a part of the name in it, and a zxcvbn
/// score of 3 or more (zxcvbn knows common passwords, words, names, keyboard patterns and
/// dates, and is told the ID and name too).
pub fn judge(password: &str, account_id: &str, name: &str) -> Result<(), Weakness> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Weakness::TooShort);
    }
    let lower = password.to_lowercase();
    if !account_id.is_empty() && lower.contains(&account_id.to_lowercase()) {
        return Err(Weakness::ContainsAccountId);
    }
    let name_parts: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| p.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    if name_parts.iter().any(|p| lower.contains(p.as_str())) {
        return Err(Weakness::ContainsName);
    }
    let mut inputs: Vec<&str> = vec![account_id];
    inputs.extend(name_parts.iter().map(String::as_str));
    let entropy = zxcvbn::zxcvbn(password, &inputs);
    if (entropy.score() as u8) < MIN_SCORE {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| w.to_string());
        return Err(Weakness::Guessable(hint));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strength_rule() {
        let ok = [
            "correct horse battery staple",
            "Tq7#vLp2!wXz9",
            "紫陽花の咲く調布の坂道",
        ];
        for p in ok {
            assert_eq!(judge(p, "a1830000", "Chofu Taro"), Ok(()), "{p}");
        }
        assert_eq!(
            judge("short", "a1830000", "Chofu Taro"),
            Err(Weakness::TooShort)
        );
        assert_eq!(
            judge("xA1830000yz!", "a1830000", "Chofu Taro"),
            Err(Weakness::ContainsAccountId)
        );
        assert_eq!(
            judge("chofu-is-a-nice-place", "a1830000", "Chofu Taro"),
            Err(Weakness::ContainsName)
        );
        for common in [
            "password1",
            "qwertyuiop",
            "iloveyou123",
            "1234567890",
            "Password2024",
        ] {
            assert!(
                matches!(
                    judge(common, "a1830000", "Chofu Taro"),
                    Err(Weakness::Guessable(_))
                ),
                "{common}"
            );
        }
        assert!(
            !Weakness::Guessable(Some("This is a top-10 common password".into()))
                .message()
                .is_empty()
        );
    }

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
