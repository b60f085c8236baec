//! The sign-in form. Field names `username` and `password` are part of the interface
//! (INTERFACE.md): password managers and scripts rely on them.

use maud::{Markup, html};

use super::layout::layout;

pub struct LoginView<'a> {
    pub flow_id: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// The error is an expired password: point to the reissue page.
    pub expired: bool,
}

pub fn login_page(v: &LoginView<'_>) -> Markup {
    layout(
        "Sign in / ログイン",
        html! {
            h1 { "Sign in / ログイン" }
            @if let Some(e) = v.error {
                p.error role="alert" {
                    (e)
                    @if v.expired {
                        " " a href="/reissue" { "Reissue online / オンラインで再発行" }
                    }
                }
            }
            form method="post" action="/login" {
                input type="hidden" name="flow" value=(v.flow_id);
                input type="hidden" name="csrf" value=(v.csrf);
                label for="username" { "UEC account ID / UECアカウント" }
                input #username type="text" name="username" value=(v.username)
                    autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus;
                label for="password" { "Password / パスワード" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in / ログイン" }
            }
            p { a href="/reissue" { "Forgot your password? / パスワードを忘れた場合" } }
            div #passkey data-flow=(v.flow_id) data-csrf=(v.csrf) data-mode="passwordless" {
                button.secondary type="button" #passkey-button { "Sign in with a passkey / パスキーでログイン" }
                p.error #passkey-error role="alert" hidden {}
            }
            script src="/static/passkeys.js" {}
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_the_interface_field_names_and_a_csrf_token() {
        let page = login_page(&LoginView {
            flow_id: "f1",
            csrf: "tok",
            username: "a1830000\"><x",
            error: Some("bad"),
            expired: true,
        })
        .into_string();
        for needle in [
            r#"name="username""#,
            r#"name="password""#,
            r#"name="csrf" value="tok""#,
            r#"name="flow" value="f1""#,
            r#"href="/reissue""#,
        ] {
            assert!(page.contains(needle), "{needle}");
        }
        assert!(!page.contains("\"><x"), "the login hint is escaped");
    }
}
