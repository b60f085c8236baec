//! The passkey settings page: the registered passkeys with their names, and a button that
//! registers a new one (through `/static/passkeys.js`).

use maud::{Markup, html};

use super::layout::layout;
use crate::store::second_factors::PasskeyRow;

fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

pub fn passkeys_page(account_id: &str, rows: &[PasskeyRow], csrf: &str) -> Markup {
    layout(
        "Passkeys / パスキー",
        html! {
            h1 { "Passkeys for " (account_id) " / パスキー" }
            p { "A passkey signs you in with this device's screen lock or a security key, without a password, and counts as a second factor. / パスキーは端末の画面ロックやセキュリティキーで本人確認を行い、2段階認証としても使えます。" }
            @if rows.is_empty() {
                p { "No passkeys yet. / 登録されたパスキーはありません。" }
            }
            @for row in rows {
                section.passkey {
                    form method="post" action="/account/passkeys/rename" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="credential_id" value=(row.credential_id);
                        label { "Name / 名前" input type="text" name="name" value=(row.name) maxlength="60"; }
                        button.secondary type="submit" { "Rename / 名前を変更" }
                    }
                    p.small {
                        "Added " (when(row.created_at))
                        @if let Some(used) = row.last_used_at { ", last used " (when(used)) }
                    }
                    form.inline method="post" action="/account/passkeys/remove" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="credential_id" value=(row.credential_id);
                        button.secondary type="submit" { "Remove / 削除" }
                    }
                }
            }
            div #passkey data-csrf=(csrf) data-mode="register" {
                label for="passkey-name" { "Name for the new passkey / 新しいパスキーの名前" }
                input #passkey-name type="text" maxlength="60" placeholder="e.g. phone, security key";
                button type="button" #passkey-button { "Add a passkey / パスキーを追加" }
                p.error #passkey-error role="alert" hidden {}
            }
            script src="/static/passkeys.js" {}
            p { a href="/account" { "Back to the account page / アカウントページへ" } }
        },
    )
}
