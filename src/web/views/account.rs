//! The account overview.

use maud::{Markup, html};

use super::layout::layout;
use crate::domain::account::Account;
use crate::store::sessions::BrowserSession;

pub fn account_page(account: &Account, session: &BrowserSession) -> Markup {
    layout(
        "Account / アカウント",
        html! {
            h1 { "Your UEC account / UECアカウント" }
            dl {
                dt { "Account ID" } dd { (account.id) }
                dt { "Name" } dd { (account.name) }
                dt { "Affiliation" } dd { (account.affiliation.as_str()) }
                dt { "Signed in with" } dd { (session.amr.join(", ")) }
            }
        },
    )
}
