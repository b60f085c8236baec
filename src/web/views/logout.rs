//! The logout pages: the confirmation asked when the relying party sent no usable hint, and
//! the "signed out" page shown when there is nowhere to return to.

use maud::{Markup, html};

use super::layout::layout;

/// What the confirmation form carries forward (already checked).
pub struct ConfirmView<'a> {
    pub csrf: &'a str,
    pub client_name: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

pub fn confirm_logout_page(v: &ConfirmView<'_>) -> Markup {
    layout(
        "Sign out / サインアウト",
        html! {
            h1 { "Sign out of the UEC account? / UEC アカウントからサインアウトしますか？" }
            @if let Some(name) = v.client_name {
                p { (name) " asked to sign you out. / " (name) " からサインアウトが要求されました。" }
            }
            p { "You will be signed out here and from the applications you used with this sign-in. / このログインで利用したアプリケーションからもサインアウトします。" }
            form method="post" action="/logout" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="confirm" value="yes";
                @if let Some(id) = v.client_id {
                    input type="hidden" name="client_id" value=(id);
                }
                @if let Some(uri) = v.post_logout_redirect_uri {
                    input type="hidden" name="post_logout_redirect_uri" value=(uri);
                }
                @if let Some(state) = v.state {
                    input type="hidden" name="state" value=(state);
                }
                button type="submit" { "Sign out / サインアウト" }
            }
            p { a href="/account" { "Stay signed in / サインアウトしない" } }
        },
    )
}

pub fn signed_out_page() -> Markup {
    layout(
        "Signed out / サインアウトしました",
        html! {
            h1 { "You are signed out / サインアウトしました" }
            p { "You are signed out of the UEC account. Close the browser if this is a shared computer. / UEC アカウントからサインアウトしました。共用のコンピュータではブラウザを閉じてください。" }
        },
    )
}
