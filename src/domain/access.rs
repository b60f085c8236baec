//! Which accounts a relying party admits: the one rule checked before any authorization
//! code is issued, whether the person has just signed in or a live session answers.

use crate::domain::account::{Account, Affiliation};
use crate::domain::client::RelyingParty;
use crate::domain::compliance::Requirement;

/// Why a relying party does not admit an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The relying party admits only some affiliations (e.g. the travel system: staff).
    Affiliation {
        affiliation: Affiliation,
        admitted: Vec<Affiliation>,
    },
    /// The relying party requires compliance and the account is restricted; what to do.
    Compliance(Vec<Requirement>),
}

impl Refusal {
    /// The machine name, for audit events.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Affiliation { .. } => "affiliation",
            Self::Compliance(_) => "compliance",
        }
    }
}

/// Whether `client` admits `account` at `now`. The affiliation comes first: it is not
/// something the person can fix, so listing compliance work would only mislead.
pub fn admits(client: &RelyingParty, account: &Account, now: i64) -> Result<(), Refusal> {
    if !client.admits(account.affiliation) {
        return Err(Refusal::Affiliation {
            affiliation: account.affiliation,
            admitted: client.allowed_affiliations.clone(),
        });
    }
    if client.requires_compliance {
        let status = account.compliance().status(now);
        if status.restricted {
            return Err(Refusal::Compliance(status.outstanding));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountId, AccountStatus};
    use crate::domain::client::ClientAuthMethod;

    const T0: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn client(allowed: Vec<Affiliation>, requires_compliance: bool) -> RelyingParty {
        RelyingParty {
            name: "Travel".into(),
            auth_method: ClientAuthMethod::None,
            redirect_uris: vec![],
            allowed_affiliations: allowed,
            requires_compliance,
            ..RelyingParty::for_tests("c", "")
        }
    }

    fn account(affiliation: Affiliation, pledge: Option<i64>) -> Account {
        Account {
            id: AccountId::parse("a1830000").expect("id"),
            sub: "s".into(),
            name: "n".into(),
            affiliation,
            personal_email: None,
            email_alias: None,
            valid_until: None,
            status: AccountStatus::Active,
            created_at: T0,
            previous_account_id: None,
            pledge_completed_at: pledge,
            infoss_completed_at: Some(T0),
        }
    }

    #[test]
    fn a_staff_only_client_refuses_students_and_admits_staff() {
        let travel = client(vec![Affiliation::Staff, Affiliation::Faculty], false);
        assert_eq!(
            admits(&travel, &account(Affiliation::Student, None), T0),
            Err(Refusal::Affiliation {
                affiliation: Affiliation::Student,
                admitted: vec![Affiliation::Staff, Affiliation::Faculty],
            })
        );
        assert_eq!(
            admits(&travel, &account(Affiliation::Staff, None), T0),
            Ok(())
        );
    }

    #[test]
    fn only_compliance_gated_clients_refuse_a_restricted_account() {
        let restricted = account(Affiliation::Student, None);
        let late = T0 + 91 * DAY;
        assert_eq!(
            admits(&client(vec![], true), &restricted, late),
            Err(Refusal::Compliance(vec![Requirement::Pledge]))
        );
        assert_eq!(admits(&client(vec![], false), &restricted, late), Ok(()));
        // Within the 90 days it is not restricted yet.
        assert_eq!(admits(&client(vec![], true), &restricted, T0 + DAY), Ok(()));
        let compliant = account(Affiliation::Student, Some(T0));
        assert_eq!(admits(&client(vec![], true), &compliant, late), Ok(()));
    }

    #[test]
    fn the_affiliation_is_reported_before_compliance() {
        let gated = client(vec![Affiliation::Staff], true);
        let r = admits(&gated, &account(Affiliation::Student, None), T0 + 91 * DAY);
        assert!(matches!(r, Err(Refusal::Affiliation { .. })));
    }
}
