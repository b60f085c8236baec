//! The frame of every page.

use maud::{DOCTYPE, Markup, html};

pub fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " — UEC IdP" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header { p.brand { "UEC アカウント / UEC account" } }
                main { (body) }
                footer {
                    p { "The UEC IdP never asks for your password by e-mail or phone. "
                        "パスワードをメールや電話で尋ねることはありません。" }
                }
            }
        }
    }
}
