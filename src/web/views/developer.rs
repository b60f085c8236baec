//! The developer portal pages: my apps, the registration and edit forms, the page that
//! shows a client secret once.

use maud::{Markup, html};

use super::layout::layout;
use crate::domain::client::RelyingParty;

/// What the app form shows: the submitted values after a refusal, else the app's own.
#[derive(Default)]
pub struct AppFormValues {
    pub name: String,
    /// One URI per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: String,
    pub public: bool,
}

impl AppFormValues {
    pub fn of(client: &RelyingParty) -> Self {
        Self {
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            backchannel_logout_uri: client.backchannel_logout_uri.clone().unwrap_or_default(),
            public: client.is_public(),
        }
    }
}

fn kind(client: &RelyingParty) -> &'static str {
    if client.is_public() {
        "public (no secret, PKCE) / 公開クライアント"
    } else {
        "confidential / 機密クライアント"
    }
}

pub fn apps_page(apps: &[RelyingParty]) -> Markup {
    layout(
        "Developer portal / 開発者ポータル",
        html! {
            h1 { "Your apps / 登録したアプリ" }
            p { "Apps registered here can sign in UEC accounts with OpenID Connect. Each person is asked to consent before an app receives their data. / ここで登録したアプリは、利用者の同意を得てUECアカウントでログインできます。" }
            @if apps.is_empty() {
                p { "No apps yet. / まだありません。" }
            } @else {
                table.apps {
                    thead { tr { th { "Name" } th { "client_id" } th { "Type" } } }
                    tbody {
                        @for app in apps {
                            tr {
                                td { a href={ "/developer/apps/" (app.id) } { (app.name) } }
                                td { code { (app.id) } }
                                td { (kind(app)) @if app.disabled { " (disabled by the ITC / 停止中)" } }
                            }
                        }
                    }
                }
            }
            p { a href="/developer/apps/new" { "Register a new app / 新しいアプリを登録" } }
        },
    )
}

fn fields(v: &AppFormValues, new: bool) -> Markup {
    html! {
        label for="name" { "Name shown to people / アプリ名" }
        input #name type="text" name="name" value=(v.name) maxlength="200" required;
        label for="redirect_uris" { "Redirect URIs, one per line (https; http only for localhost, 127.0.0.1, [::1]) / リダイレクトURI(1行に1つ)" }
        textarea #redirect_uris name="redirect_uris" rows="3" required { (v.redirect_uris) }
        label for="post_logout_redirect_uris" { "Post-logout redirect URIs, one per line (optional) / ログアウト後のリダイレクトURI" }
        textarea #post_logout_redirect_uris name="post_logout_redirect_uris" rows="2" { (v.post_logout_redirect_uris) }
        label for="backchannel_logout_uri" { "Back-channel logout URI (optional) / バックチャネルログアウトURI" }
        input #backchannel_logout_uri type="url" name="backchannel_logout_uri" value=(v.backchannel_logout_uri);
        @if new {
            fieldset {
                legend { "Type / 種類" }
                label {
                    input type="radio" name="client_type" value="confidential" checked[!v.public];
                    " Confidential: a server that keeps a secret / 機密(サーバーアプリ)"
                }
                label {
                    input type="radio" name="client_type" value="public" checked[v.public];
                    " Public: a native or browser app, no secret, PKCE / 公開(ネイティブ・ブラウザアプリ)"
                }
            }
        }
    }
}

fn error_notice(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            p.error role="alert" { (e) }
        }
    }
}

pub fn new_app_page(v: &AppFormValues, csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "New app / アプリの登録",
        html! {
            h1 { "Register an app / アプリの登録" }
            (error_notice(error))
            form method="post" action="/developer/apps" {
                input type="hidden" name="csrf" value=(csrf);
                (fields(v, true))
                button type="submit" { "Register / 登録" }
            }
            p { a href="/developer" { "Back / 戻る" } }
        },
    )
}

pub fn app_page(
    client: &RelyingParty,
    v: &AppFormValues,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    let action = format!("/developer/apps/{}", client.id);
    layout(
        "App / アプリ",
        html! {
            h1 { (client.name) }
            (error_notice(error))
            dl {
                dt { "client_id" } dd { code #client-id { (client.id) } }
                dt { "Type / 種類" } dd { (kind(client)) }
                dt { "Token endpoint authentication" } dd { (client.auth_method.as_str()) }
            }
            h2 { "Edit / 編集" }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                (fields(v, false))
                button type="submit" { "Save / 保存" }
            }
            @if !client.is_public() {
                h2 { "Client secret / クライアントシークレット" }
                p { "A new secret replaces the current one at once: update the app right after. / 新しいシークレットを発行すると、現在のものはすぐに使えなくなります。" }
                form.inline method="post" action={ (action) "/secret" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { "Issue a new secret / シークレットを再発行" }
                }
            }
            h2 { "Delete / 削除" }
            form method="post" action={ (action) "/delete" } {
                input type="hidden" name="csrf" value=(csrf);
                label {
                    input type="checkbox" name="confirm" value="yes" required;
                    " I understand that the app and every sign-in it holds end now. / アプリと発行済みのトークンはすべて無効になります。"
                }
                button.secondary type="submit" { "Delete the app / アプリを削除" }
            }
            p { a href="/developer" { "Back to your apps / アプリ一覧へ" } }
        },
    )
}

/// Shown right after registration or rotation: the only time the secret is visible.
pub fn credentials_page(client: &RelyingParty, secret: Option<&str>, rotated: bool) -> Markup {
    layout(
        "App credentials / 認証情報",
        html! {
            h1 { @if rotated { "New secret for " } @else { "Registered: " } (client.name) }
            dl {
                dt { "client_id" } dd { code #client-id { (client.id) } }
                @if let Some(s) = secret {
                    dt { "client_secret" } dd { code #client-secret { (s) } }
                }
            }
            @if secret.is_some() {
                p.notice role="alert" { "Copy the secret now: it is shown only this once and only its hash is kept. / シークレットは今回だけ表示されます。今すぐ控えてください。" }
            } @else {
                p { "A public app has no secret: use PKCE (S256). / 公開クライアントにはシークレットがありません。PKCE を使ってください。" }
            }
            p { a href={ "/developer/apps/" (client.id) } { "Go to the app / アプリへ" } }
        },
    )
}
