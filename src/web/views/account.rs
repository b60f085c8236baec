//! The account pages: overview with second-factor settings, TOTP set-up, backup codes.

use maud::{Markup, PreEscaped, html};

use super::layout::layout;
use crate::domain::account::Account;
use crate::domain::compliance::ComplianceStatus;
use crate::services::enrolment::TotpSetup;
use crate::store::second_factors::Methods;
use crate::store::sessions::BrowserSession;

pub struct AccountView<'a> {
    pub account: &'a Account,
    pub session: &'a BrowserSession,
    pub methods: &'a Methods,
    pub compliance: &'a ComplianceStatus,
    pub csrf: &'a str,
    /// (is_error, text)
    pub notice: Option<(bool, &'a str)>,
}

fn post_button(action: &str, csrf: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            button.secondary type="submit" { (label) }
        }
    }
}

pub fn account_page(v: &AccountView<'_>) -> Markup {
    let m = v.methods;
    layout(
        "Account / アカウント",
        html! {
            h1 { "Your UEC account / UECアカウント" }
            @if let Some((is_error, text)) = v.notice {
                p class=(if is_error { "error" } else { "notice" }) role="alert" { (text) }
            }
            dl {
                dt { "Account ID" } dd { (v.account.id) }
                dt { "Name" } dd { (v.account.name) }
                dt { "Affiliation" } dd { (v.account.affiliation.as_str()) }
                dt { "Signed in with" } dd { (v.session.amr.join(", ")) }
            }
            h2 { "Password / パスワード" }
            p { a href="/account/password" { "Change the password / パスワードを変更する" } }
            h2 { "Apps / 連携アプリ" }
            p { a href="/account/apps" { "Apps you allowed to use your account / 許可したアプリ" } }
            @if crate::domain::client::may_register_apps(v.account.affiliation) {
                p { a href="/developer" { "Register your own apps (developer portal) / アプリを登録する（開発者ポータル）" } }
            }
            (compliance_section(v.compliance))
            h2 { "Second factor / 2段階認証" }
            @if !m.any() {
                p.error { "No second factor is set up: you cannot sign in from outside the campus network. / 2段階認証が未設定です。学外からはログインできません。" }
            }
            section #totp {
                h3 { "Authenticator app / 認証アプリ" }
                @if m.totp {
                    p { "Enabled. / 設定済み" }
                    (post_button("/account/totp/remove", v.csrf, "Remove / 削除"))
                }
                (post_button("/account/totp/setup", v.csrf, if m.totp { "Set up a new app / 再設定" } else { "Set up / 設定する" }))
            }
            section #email {
                h3 { "Codes by e-mail / メールで確認コード" }
                @if let Some(address) = &m.email {
                    p { "Codes go to " strong { (address) } ". / 送信先: " (address) }
                    (post_button("/account/email/remove", v.csrf, "Stop / 停止"))
                }
                form method="post" action="/account/email" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label for="address" { "New address (not a university mailbox) / 新しい送信先" }
                    input #address type="email" name="address" autocomplete="email" required;
                    button.secondary type="submit" { "Send a confirmation code / 確認コードを送る" }
                }
                form method="post" action="/account/email/confirm" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label for="email-code" { "Confirmation code / 確認コード" }
                    input #email-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code";
                    button.secondary type="submit" { "Confirm / 確認" }
                }
            }
            section #backup-codes {
                h3 { "Backup codes / バックアップコード" }
                p { (m.backup_codes_left) " unused. / 未使用 " (m.backup_codes_left) " 個" }
                (post_button("/account/backup-codes", v.csrf, "Print new codes (voids the old ones) / 新しいコードを発行"))
                @if m.backup_codes_left > 0 {
                    (post_button("/account/backup-codes/remove", v.csrf, "Void / 無効にする"))
                }
            }
            section #passkeys {
                h3 { "Passkeys / パスキー" }
                p { (m.passkeys) " registered. / 登録数 " (m.passkeys) " " a href="/account/passkeys" { "Manage / 管理" } }
            }
            h2 { "Sign-ins / ログイン" }
            p { "Ends every sign-in of this account, here and on other devices, and signs you out of the applications they used. / すべての端末とアプリケーションからサインアウトします。" }
            (post_button("/account/sign-out-everywhere", v.csrf, "Sign out everywhere / すべてサインアウト"))
        },
    )
}

/// A Unix time as its date in Japan.
fn jst_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t + 9 * 3600, 0)
        .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn compliance_section(c: &ComplianceStatus) -> Markup {
    html! {
        section #compliance {
            h2 { "Pledge and INFOSS / 誓約書・情報倫理教育" }
            @if c.restricted {
                p.error role="alert" { "Your account is restricted: systems that require compliance refuse it until the following is done. / アカウントは制限されています。以下を完了するまで、一部のシステムは利用できません。" }
            } @else if !c.outstanding.is_empty() {
                p.notice { "Complete the following by " strong { (jst_date(c.deadline - 1)) } ", or your account will be restricted. / "
                    (jst_date(c.deadline - 1)) " までに以下を完了してください。期限を過ぎるとアカウントが制限されます。" }
            } @else {
                p { "Done. / 完了しています。" }
            }
            @if !c.outstanding.is_empty() {
                ul.outstanding { @for r in &c.outstanding { li { (r.instruction()) } } }
            }
            @if let Some(due) = c.infoss_due {
                p { "INFOSS is repeated every year; your current completion counts until " (jst_date(due - 1))
                    ". / INFOSSは毎年受講が必要です。現在の受講の有効期限: " (jst_date(due - 1)) }
            }
        }
    }
}

pub fn totp_setup_page(setup: &TotpSetup, csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "Authenticator app / 認証アプリ",
        html! {
            h1 { "Set up an authenticator app / 認証アプリの設定" }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            p { "Scan the QR code with the app, or enter the key by hand. Then enter the 6-digit code the app shows. / QRコードを読み取るか、キーを手入力してください。" }
            // The SVG is generated by the qrcode crate from our own URI: no outside input.
            div.qr { (PreEscaped(&setup.qr_svg)) }
            dl {
                dt { "Key / キー" } dd { code #totp-secret { (setup.secret_base32) } }
                dt { "URI" } dd { code #otpauth-uri { (setup.otpauth_uri) } }
            }
            form method="post" action="/account/totp/confirm" {
                input type="hidden" name="csrf" value=(csrf);
                label for="code" { "Code from the app / アプリのコード" }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus;
                button type="submit" { "Enable / 有効にする" }
            }
        },
    )
}

pub fn backup_codes_page(account_id: &str, codes: &[String]) -> Markup {
    layout(
        "Backup codes / バックアップコード",
        html! {
            h1 { "Backup codes for " (account_id) }
            p { "Print or write down these codes and keep them safe. Each works once. They are shown only now; the old codes no longer work. / 各コードは1回だけ使えます。この画面でのみ表示されます。" }
            ol.codes {
                @for c in codes { li { code { (c) } } }
            }
            p { a href="/account" { "Back to the account page / アカウントページへ" } }
        },
    )
}
