//! Outgoing mail through lettre: SMTP (`mail.smtp_url`) for real use, or one RFC 5322 `.eml`
//! file per message in `mail.dir` (the embedded default, and what tests read).
//!
//! Bodies are plain text in Japanese and English, from `templates/mail/`, sent base64-encoded
//! as UTF-8. A send that fails is returned to the caller, which tells the person and logs it;
//! nothing is dropped silently. Codes never appear in logs: errors name the transport only.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{ConfigError, MailSettings};

/// How long an SMTP conversation may take before the send counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A message before its recipient is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMailParts {
    pub subject: String,
    pub body: String,
}

impl OutgoingMailParts {
    pub fn to(self, address: &str) -> OutgoingMail {
        OutgoingMail {
            to: address.to_string(),
            subject: self.subject,
            body: self.body,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid recipient address")]
    InvalidAddress,
    #[error("message could not be built: {0}")]
    Build(String),
    #[error("mail transport failed: {0}")]
    Transport(String),
}

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Arc<Transport>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match *self.transport {
            Transport::File(_) => "file",
            Transport::Smtp(_) => "smtp",
        };
        write!(f, "Mailer({kind})")
    }
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> Result<Mailer, ConfigError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| ConfigError::new("mail.from", format!("not a mail address: {e}")))?;
        let transport = match settings.transport.as_str() {
            "file" => {
                std::fs::create_dir_all(&settings.dir).map_err(|e| {
                    ConfigError::new(
                        "mail.dir",
                        format!("cannot create {}: {e}", settings.dir.display()),
                    )
                })?;
                Transport::File(AsyncFileTransport::new(&settings.dir))
            }
            "smtp" => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
                    .map_err(|e| ConfigError::new("mail.smtp_url", e))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            other => {
                return Err(ConfigError::new(
                    "mail.transport",
                    format!("must be \"file\" or \"smtp\", not {other:?}"),
                ));
            }
        };
        Ok(Mailer {
            from,
            transport: Arc::new(transport),
        })
    }

    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::InvalidAddress)?;
        let body = Body::new_with_encoding(mail.body, ContentTransferEncoding::Base64)
            .map_err(|_| MailError::Build("body encoding".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &*self.transport {
            Transport::File(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| MailError::Transport(e.to_string())),
            Transport::Smtp(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| MailError::Transport(e.to_string())),
        }
    }
}

/// What an account notice says (by mail, or printed).
pub struct AccountNotice<'a> {
    pub account: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    /// The initial password's last day, `YYYY-MM-DD`.
    pub expires: &'a str,
    pub issuer: &'a str,
}

/// The messages uec-idp sends.
pub mod messages {
    use super::OutgoingMailParts;

    fn fill(template: &str, account: &str, code: &str, minutes: i64) -> String {
        template
            .replace("{account}", account)
            .replace("{code}", code)
            .replace("{minutes}", &minutes.to_string())
    }

    /// A sign-in code for the second factor.
    pub fn sign_in_code(account: &str, code: &str, minutes: i64) -> OutgoingMailParts {
        OutgoingMailParts {
            subject: "UEC IdP サインイン確認コード / Sign-in code".into(),
            body: fill(
                include_str!("../templates/mail/sign_in_code.txt"),
                account,
                code,
                minutes,
            ),
        }
    }

    /// The notice of a newly issued account: its ID and initial password.
    pub fn account_notice(notice: &super::AccountNotice<'_>) -> OutgoingMailParts {
        OutgoingMailParts {
            subject: "UEC アカウントのお知らせ / Your UEC account".into(),
            body: include_str!("../templates/mail/account_notice.txt")
                .replace("{name}", notice.name)
                .replace("{account}", notice.account)
                .replace("{password}", notice.password)
                .replace("{expires}", notice.expires)
                .replace("{issuer}", notice.issuer),
        }
    }

    /// The account will be deleted on `date` (`days` from now): back up and migrate.
    pub fn deletion_reminder(account: &str, date: &str, days: i64) -> OutgoingMailParts {
        OutgoingMailParts {
            subject: "UEC アカウント削除のお知らせ / Your UEC account will be deleted".into(),
            body: include_str!("../templates/mail/deletion_reminder.txt")
                .replace("{account}", account)
                .replace("{date}", date)
                .replace("{days}", &days.to_string()),
        }
    }

    /// A code confirming a new e-mail destination for sign-in codes.
    pub fn confirm_address(account: &str, code: &str, minutes: i64) -> OutgoingMailParts {
        OutgoingMailParts {
            subject: "UEC IdP メールアドレスの確認 / Confirm your e-mail address".into(),
            body: fill(
                include_str!("../templates/mail/confirm_address.txt"),
                account,
                code,
                minutes,
            ),
        }
    }

    /// A password-update key for an online reissue.
    pub fn reissue_key(account: &str, key: &str, minutes: i64) -> OutgoingMailParts {
        OutgoingMailParts {
            subject: "UEC IdP パスワード更新キー / Password-update key".into(),
            body: fill(
                include_str!("../templates/mail/reissue_key.txt"),
                account,
                key,
                minutes,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> MailSettings {
        MailSettings {
            dir: dir.to_path_buf(),
            ..MailSettings::default()
        }
    }

    #[test]
    fn messages_carry_the_code_in_both_languages() {
        let m = messages::sign_in_code("a2010001", "123456", 10).to("taro@example.com");
        assert!(m.body.contains("    123456\n"));
        assert!(m.body.contains("10 分間") && m.body.contains("10 minutes"));
        assert!(!m.body.contains('{'), "every placeholder filled");
        let m = messages::confirm_address("a2010001", "654321", 10);
        assert!(m.body.contains("654321") && !m.body.contains('{'));
        let m = messages::reissue_key("a2010001", "12345678", 30);
        assert!(m.body.contains("    12345678\n"));
        assert!(m.body.contains("30 分間") && m.body.contains("30 minutes"));
        assert!(m.body.contains("your password is unchanged") && !m.body.contains('{'));
    }

    #[tokio::test]
    async fn file_transport_writes_one_eml_per_message() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = Mailer::from_settings(&settings(&tmp.path().join("mail"))).unwrap();
        let mail = messages::sign_in_code("a2010001", "123456", 10).to("taro@example.com");
        mailer.send(mail.clone()).await.unwrap();
        mailer.send(mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(tmp.path().join("mail"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 2);
        let raw = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(raw.contains("To: taro@example.com"));
        assert!(raw.contains("Content-Transfer-Encoding: base64"));
        assert!(!raw.contains("123456"), "the body is encoded, not plain");
    }

    #[tokio::test]
    async fn a_bad_recipient_or_unreachable_server_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = Mailer::from_settings(&settings(tmp.path())).unwrap();
        let mail = messages::sign_in_code("a", "1", 1);
        assert!(matches!(
            mailer.send(mail.clone().to("not an address")).await,
            Err(MailError::InvalidAddress)
        ));

        // Nothing listens on port 9 (discard) on loopback here.
        let smtp = MailSettings {
            transport: "smtp".into(),
            smtp_url: "smtp://127.0.0.1:9".into(),
            ..settings(tmp.path())
        };
        let mailer = Mailer::from_settings(&smtp).unwrap();
        assert!(matches!(
            mailer.send(mail.to("taro@example.com")).await,
            Err(MailError::Transport(_))
        ));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let tmp = tempfile::tempdir().unwrap();
        for (s, key) in [
            (
                MailSettings {
                    from: "nobody".into(),
                    ..settings(tmp.path())
                },
                "mail.from",
            ),
            (
                MailSettings {
                    transport: "pigeon".into(),
                    ..settings(tmp.path())
                },
                "mail.transport",
            ),
            (
                MailSettings {
                    transport: "smtp".into(),
                    smtp_url: "ftp://x".into(),
                    ..settings(tmp.path())
                },
                "mail.smtp_url",
            ),
        ] {
            let err = Mailer::from_settings(&s).unwrap_err().to_string();
            assert!(err.contains(&format!(": {key}: ")), "{err}");
        }
    }
}
