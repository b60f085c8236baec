//! The error page.

use maud::{Markup, html};

use super::layout::layout;

pub fn error_page(message: &str, incident: Option<&str>) -> Markup {
    layout(
        "Error / エラー",
        html! {
            h1 { "Something is wrong / エラー" }
            p.error role="alert" { (message) }
            @if let Some(id) = incident {
                p.incident { "Incident id / 問い合わせ番号: " code { (id) } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped() {
        let page = error_page("<script>alert(1)</script>", Some("abc")).into_string();
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("abc"));
    }
}
