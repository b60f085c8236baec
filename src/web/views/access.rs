//! The page shown when a relying party does not admit the signed-in account.

use maud::{Markup, html};

use super::layout::layout;
use crate::domain::access::Refusal;
use crate::services::access::RefusalView;

pub fn refused_page(v: &RefusalView) -> Markup {
    layout(
        "Access refused / 利用できません",
        html! {
            @match &v.refusal {
                Some(Refusal::Affiliation { affiliation, admitted }) => {
                    h1 { (v.client_name) " does not admit your account / このシステムは利用できません" }
                    p.error role="alert" {
                        "Your account " strong { (v.account_id) } " (" (affiliation.as_str()) ") cannot use "
                        (v.client_name) ". It admits only: "
                        (admitted.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "))
                        ". / このアカウント(" (affiliation.as_str()) ")では " (v.client_name)
                        " を利用できません。利用できる所属: "
                        (admitted.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "))
                    }
                    p { "If you also hold an account of an admitted kind (e.g. a staff account), sign in with that one. / 対象の所属のアカウント(教職員アカウントなど)をお持ちの場合は、そのアカウントでログインしてください。" }
                }
                Some(Refusal::Compliance(outstanding)) => {
                    h1 { (v.client_name) " needs your compliance / 受講・提出が必要です" }
                    p.error role="alert" {
                        "Your account " strong { (v.account_id) } " is restricted until the following is done. "
                        (v.client_name) " refuses it until then; other systems and the account page still work. / "
                        "以下が完了するまでアカウントは制限されており、" (v.client_name) " は利用できません。"
                    }
                    ul.outstanding {
                        @for r in outstanding { li { (r.instruction()) } }
                    }
                    p { "A completion is recorded by the ITC; allow a day before trying again. / 受講・提出の記録は情報基盤センターが反映します。反映まで1日程度お待ちください。" }
                }
                None => {
                    h1 { "Your account is admitted now / 利用できるようになりました" }
                    p { "Go back to " (v.client_name) " and sign in again. / " (v.client_name) " に戻ってもう一度ログインしてください。" }
                }
            }
            @if let Some(back) = &v.back {
                p { a href=(back) { "Back to " (v.client_name) " / " (v.client_name) " に戻る" } }
            }
            p { a href="/account" { "Your account page / アカウントページ" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::Affiliation;
    use crate::domain::compliance::Requirement;

    fn view(refusal: Option<Refusal>) -> RefusalView {
        RefusalView {
            client_name: "<Travel>".into(),
            account_id: "a1830000".into(),
            refusal,
            back: Some("https://rp.uec.ac.jp/cb?error=access_denied".into()),
        }
    }

    #[test]
    fn the_page_names_the_admitted_affiliations_and_escapes_the_client_name() {
        let page = refused_page(&view(Some(Refusal::Affiliation {
            affiliation: Affiliation::Student,
            admitted: vec![Affiliation::Staff],
        })))
        .into_string();
        assert!(page.contains("It admits only: staff"));
        assert!(page.contains("&lt;Travel&gt;") && !page.contains("<Travel>"));
        assert!(page.contains("error=access_denied"));
    }

    #[test]
    fn the_page_says_what_is_missing_and_where() {
        let page =
            refused_page(&view(Some(Refusal::Compliance(vec![Requirement::Infoss])))).into_string();
        assert!(page.contains("情報倫理e-ラーニング(INFOSS)を受講してください"));
        assert!(!page.contains("Pledge"));
    }
}
