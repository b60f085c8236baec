//! The consent page (a third-party app asks for the person's data) and `/account/apps`
//! (the apps consented to, each with a Withdraw button).

use maud::{Markup, html};

use super::layout::layout;
use crate::services::consent::{ConsentView, Registrant};
use crate::store::consents::ConsentListing;

/// What a scope releases, in English and Japanese.
fn releases(scope: &str) -> Option<(&'static str, &'static str)> {
    Some(match scope {
        "openid" => (
            "An identifier for you (the same one each time you use this app)",
            "あなたを識別する番号(このアプリでは毎回同じ)",
        ),
        "profile" => (
            "Your name, UEC account ID and affiliation",
            "氏名、UECアカウントID、所属",
        ),
        "email" => ("Your e-mail address", "メールアドレス"),
        "offline_access" => (
            "Access to the above while you are signed out",
            "ログアウト中も上記の情報にアクセスすること",
        ),
        _ => return None,
    })
}

pub fn consent_page(v: &ConsentView, flow_id: &str, csrf: &str) -> Markup {
    layout(
        "Allow access? / アクセスの許可",
        html! {
            h1 { (v.client_name) " wants to use your UEC account / UECアカウントの利用許可" }
            p.owner {
                @match &v.registrant {
                    Registrant::Person(owner) => { "Registered by " strong { (owner) } ", not by the university. / 登録者: " (owner) "(大学の公式システムではありません)" }
                    Registrant::Unreviewed => { "Registered by its developer through automatic registration; not reviewed by the university. / 開発者が自動登録したアプリです。大学は確認していません。" }
                    Registrant::University => { "Registered by the university. / 大学が登録したアプリです。" }
                }
            }
            p { "Signed in as " strong { (v.account_id) } ". If you allow it, " (v.client_name) " receives: / 許可すると、次の情報が " (v.client_name) " に渡されます:" }
            ul.claims {
                @for scope in &v.scopes {
                    @if let Some((en, ja)) = releases(scope) {
                        li data-scope=(scope) { (en) " / " (ja) }
                    }
                }
            }
            p { "You can withdraw this at any time on " a href="/account/apps" { "your account's app page" } ". / 許可はアカウントページでいつでも取り消せます。" }
            form method="post" action="/consent" {
                input type="hidden" name="flow" value=(flow_id);
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" name="decision" value="allow" { "Allow / 許可する" }
                " "
                button.secondary type="submit" name="decision" value="deny" { "Deny / 許可しない" }
            }
        },
    )
}

/// A Unix time as its date in Japan.
fn jst_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t + 9 * 3600, 0)
        .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

pub fn apps_page(apps: &[ConsentListing], csrf: &str, notice: Option<&str>) -> Markup {
    layout(
        "Apps / 連携アプリ",
        html! {
            h1 { "Apps you allowed / 許可したアプリ" }
            @if let Some(text) = notice {
                p.notice role="status" { (text) }
            }
            @if apps.is_empty() {
                p { "You have not allowed any app. / 許可したアプリはありません。" }
            } @else {
                table.apps {
                    thead { tr { th { "App / アプリ" } th { "Access / 情報" } th { "Since / 許可日" } th {} } }
                    tbody {
                        @for app in apps {
                            tr {
                                td { (app.client_name) }
                                td {
                                    ul.scopes {
                                        @for scope in app.scope.split(' ') {
                                            @if let Some((en, ja)) = releases(scope) {
                                                li data-scope=(scope) { (en) " / " (ja) }
                                            }
                                        }
                                    }
                                }
                                td { (jst_date(app.granted_at)) }
                                td {
                                    form.inline method="post" action="/account/apps/withdraw" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="client_id" value=(app.client_id);
                                        button.secondary type="submit" { "Withdraw / 取り消す" }
                                    }
                                }
                            }
                        }
                    }
                }
                p { "Withdrawing ends the app's access at once; it asks again the next time you use it. / 取り消すと、アプリのアクセスはすぐに停止します。" }
            }
            p { a href="/account" { "Back to the account page / アカウントページへ" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_what_each_scope_releases_and_escapes_names() {
        let view = ConsentView {
            client_name: "<Quiz>".into(),
            registrant: Registrant::Person("Prof. X".into()),
            scopes: vec!["openid".into(), "email".into()],
            account_id: "a1830000".into(),
        };
        let page = consent_page(&view, "f1", "c1").into_string();
        assert!(page.contains("&lt;Quiz&gt;") && !page.contains("<Quiz>"));
        assert!(page.contains("Your e-mail address"));
        assert!(!page.contains("affiliation"));
        assert!(page.contains("Prof. X"));
    }
}
