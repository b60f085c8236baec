//! The password change page, and the warning shown after signing in with a weak password.

use maud::{Markup, html};

use super::layout::layout;

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

pub struct ChangeView<'a> {
    pub account_id: &'a str,
    pub csrf: &'a str,
    /// The date by which the password must be changed, if it is flagged.
    pub change_by: Option<i64>,
    pub now: i64,
    /// (is_error, text)
    pub notice: Option<(bool, &'a str)>,
}

pub fn change_password_page(v: &ChangeView<'_>) -> Markup {
    layout(
        "Change password / パスワード変更",
        html! {
            h1 { "Change the password of " (v.account_id) " / パスワード変更" }
            @if let Some((is_error, text)) = v.notice {
                p class=(if is_error { "error" } else { "notice" }) role="alert" { (text) }
            }
            @if let Some(by) = v.change_by {
                @if v.now >= by {
                    p.error role="alert" { "Your password is too weak and its deadline (" (date(by)) ") has passed: change it to go on. / パスワードが脆弱なため、変更するまで利用できません。" }
                } @else {
                    p.error { "Your password is too weak. Change it by " (date(by)) ". / パスワードが脆弱です。" (date(by)) " までに変更してください。" }
                }
            }
            p { "Choose a password of at least eight characters that is hard to guess: several unrelated words work well. Not your account ID or name. After the change you stay signed in here and are signed out everywhere else. / 変更後、この画面以外のすべてのログインが終了します。" }
            form method="post" action="/account/password" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="username" value=(v.account_id) autocomplete="username";
                label for="current_password" { "Current password / 現在のパスワード" }
                input #current_password type="password" name="current_password" autocomplete="current-password" required;
                label for="new_password" { "New password / 新しいパスワード" }
                input #new_password type="password" name="new_password" autocomplete="new-password" minlength="8" required;
                label for="new_password_again" { "New password again / 新しいパスワード（確認）" }
                input #new_password_again type="password" name="new_password_again" autocomplete="new-password" minlength="8" required;
                button type="submit" { "Change / 変更する" }
            }
            p { a href="/account" { "Back to the account page / アカウントページへ" } }
        },
    )
}

/// After a sign-in with a password flagged as weak, before the deadline.
pub fn weak_password_page(change_by: i64, next: &str) -> Markup {
    layout(
        "Weak password / 脆弱なパスワード",
        html! {
            h1 { "Your password is too weak / パスワードが脆弱です" }
            p.error role="alert" {
                "It can be guessed easily. Change it by " (date(change_by)) "; after that date you can only sign in to change it. / "
                (date(change_by)) " までに変更してください。期限後は変更するまでログインできません。"
            }
            p { a.button href="/account/password" { "Change it now / 今すぐ変更する" } }
            p { a href=(next) { "Continue for now / このまま続ける" } }
        },
    )
}
