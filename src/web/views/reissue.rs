//! The password reissue pages: the request form, the key-entry page (the same words
//! whether or not anything matched), the result pages.

use maud::{Markup, html};

use super::layout::layout;

pub struct RequestView<'a> {
    pub csrf: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

pub fn request_page(v: &RequestView<'_>) -> Markup {
    layout(
        "Reissue your password / パスワード再発行",
        html! {
            h1 { "Reissue your password / パスワード再発行" }
            p { "Give your account ID and the reissue e-mail address you registered, and choose a new password. "
                "A password-update key will be sent to that address. / "
                "アカウントIDと登録済みの再発行用メールアドレスを入力し、新しいパスワードを決めてください。"
                "そのアドレスにパスワード更新キーを送ります。" }
            @if let Some(e) = v.error {
                p.error role="alert" { (e) }
            }
            form method="post" action="/reissue" {
                input type="hidden" name="csrf" value=(v.csrf);
                label for="account_id" { "UEC account ID / UECアカウント" }
                input #account_id type="text" name="account_id" value=(v.account_id)
                    autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus;
                label for="email" { "Reissue e-mail address / 再発行用メールアドレス" }
                input #email type="email" name="email" value=(v.email) autocomplete="email" required;
                label for="password" { "New password / 新しいパスワード" }
                input #password type="password" name="password" autocomplete="new-password" required;
                label for="password_confirm" { "New password again / 新しいパスワード（確認）" }
                input #password_confirm type="password" name="password_confirm" autocomplete="new-password" required;
                button type="submit" { "Send the key / 更新キーを送る" }
            }
            (desk_note())
        },
    )
}

fn desk_note() -> Markup {
    html! {
        p { "Accounts without a registered reissue e-mail must come to the ITC desk with a student/staff ID card. / "
            "再発行用メールアドレスを登録していない場合は、学生証・職員証を持って情報基盤センターの窓口にお越しください。" }
    }
}

pub struct KeyView<'a> {
    pub csrf: &'a str,
    pub ticket: &'a str,
    pub error: Option<&'a str>,
}

/// The page after a request: identical for every account and address.
pub fn key_page(v: &KeyView<'_>) -> Markup {
    layout(
        "Password-update key / パスワード更新キー",
        html! {
            h1 { "Enter the password-update key / パスワード更新キーの入力" }
            p { "If the account and address match, a password-update key has been sent to that address. "
                "It is valid for 30 minutes. Accounts without a registered reissue e-mail must come to "
                "the ITC desk with a student/staff ID card." }
            p { "アカウントIDとメールアドレスが一致した場合、そのアドレスにパスワード更新キーを送信しました。"
                "有効期間は30分です。再発行用メールアドレスを登録していない場合は、学生証・職員証を持って"
                "情報基盤センターの窓口にお越しください。" }
            @if let Some(e) = v.error {
                p.error role="alert" { (e) }
            }
            form method="post" action="/reissue/key" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="ticket" value=(v.ticket);
                label for="key" { "Password-update key / パスワード更新キー" }
                input #key type="text" name="key" inputmode="numeric" autocomplete="one-time-code"
                    spellcheck="false" required autofocus;
                button type="submit" { "Change the password / パスワードを変更" }
            }
            p { a href="/reissue" { "Start again / 最初からやり直す" } }
        },
    )
}

pub fn done_page() -> Markup {
    layout(
        "Password changed / パスワード変更完了",
        html! {
            h1 { "Your password was changed / パスワードを変更しました" }
            p { "Every session and application sign-in of the account has ended. Sign in with the new password. / "
                "すべてのログイン状態を終了しました。新しいパスワードでログインしてください。" }
            p { a href="/login" { "Sign in / ログイン" } }
        },
    )
}

/// The key was right but the password cannot be used: say why and start again.
pub fn start_again_page(reason: &str) -> Markup {
    layout(
        "Choose another password / 別のパスワード",
        html! {
            h1 { "Choose another password / 別のパスワードを選んでください" }
            p.error role="alert" { (reason) }
            p { "Your password is unchanged. Start again with another new password. / "
                "パスワードは変更されていません。別のパスワードで最初からやり直してください。" }
            p { a href="/reissue" { "Start again / 最初からやり直す" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_has_a_csrf_token_and_input_is_escaped() {
        let page = request_page(&RequestView {
            csrf: "tok",
            account_id: "a1\"><x",
            email: "",
            error: Some("<b>"),
        })
        .into_string();
        assert!(page.contains(r#"name="csrf" value="tok""#));
        assert!(!page.contains("\"><x") && !page.contains("<b>"));
        let page = key_page(&KeyView {
            csrf: "tok",
            ticket: "t1",
            error: None,
        })
        .into_string();
        assert!(page.contains(r#"name="csrf" value="tok""#));
        assert!(page.contains(r#"name="ticket" value="t1""#));
    }
}
