//! The second-factor page, and the page for accounts with no second factor set up.

use maud::{Markup, html};

use super::layout::layout;

pub struct SecondFactorView<'a> {
    pub flow_id: &'a str,
    pub csrf: &'a str,
    pub account_id: &'a str,
    pub totp: bool,
    /// Masked address codes go to, if e-mail codes are possible.
    pub email_destination: Option<&'a str>,
    pub backup_codes: bool,
    pub passkeys: bool,
    /// (is_error, text)
    pub notice: Option<(bool, &'a str)>,
}

pub fn second_factor_page(v: &SecondFactorView<'_>) -> Markup {
    layout(
        "Second factor / 2段階認証",
        html! {
            h1 { "Second factor / 2段階認証" }
            p { "Signing in as " strong { (v.account_id) } ". A second factor is needed from outside the campus network. / 学外からのアクセスには2段階認証が必要です。" }
            @if let Some((is_error, text)) = v.notice {
                p class=(if is_error { "error" } else { "notice" }) role="alert" { (text) }
            }
            form method="post" action="/login/second-factor" {
                input type="hidden" name="flow" value=(v.flow_id);
                input type="hidden" name="csrf" value=(v.csrf);
                label for="code" {
                    @if v.totp { "Code from your authenticator app" }
                    @else if v.email_destination.is_some() { "Code from the e-mail" }
                    @else { "Code" }
                    @if v.backup_codes { " (or a backup code)" }
                    " / 確認コード"
                }
                input #code type="text" name="code" inputmode="text" autocomplete="one-time-code"
                    autocapitalize="none" spellcheck="false" required autofocus;
                button type="submit" { "Verify / 確認" }
            }
            @if let Some(to) = v.email_destination {
                form method="post" action="/login/second-factor/email" {
                    input type="hidden" name="flow" value=(v.flow_id);
                    input type="hidden" name="csrf" value=(v.csrf);
                    p { "Codes by e-mail go to " (to) ". / 確認コードの送信先: " (to) }
                    button.secondary type="submit" { "Send a code by e-mail / メールでコードを送る" }
                }
            }
            @if v.passkeys {
                div #passkey data-flow=(v.flow_id) data-csrf=(v.csrf) data-mode="second-factor" {
                    button.secondary type="button" #passkey-button { "Use a passkey / パスキーを使う" }
                    p.error #passkey-error hidden {}
                }
                script src="/static/passkeys.js" {}
            }
        },
    )
}

pub fn not_set_page() -> Markup {
    layout(
        "Second factor not set / 2段階認証未設定",
        html! {
            h1 { "Second factor not set / 2段階認証が未設定です" }
            p.error role="alert" {
                "2-factor authentication is not set. Log in from the campus network (or VPN) and set it up on the account page."
            }
            p { "2段階認証が設定されていません。学内ネットワーク（またはVPN）からログインし、アカウントページで設定してください。" }
        },
    )
}
