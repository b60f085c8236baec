//! Compliance: the Pledge for Using the UEC Information Systems and the INFOSS information
//! ethics e-learning (DOMAIN.md, "Accounts"). Pure rules over completion times; `now` is
//! always passed in.
//!
//! - Both must be completed within [`GRACE_DAYS`] of activation (the account's issue time:
//!   accounts are usable from the moment they are issued).
//! - INFOSS is repeated every year: once the grace period is over, the latest INFOSS
//!   completion must be less than [`INFOSS_VALID_DAYS`] days old. Completions are recorded
//!   as the start of their day (Japan time), so a course completed on 2026-05-01 counts up
//!   to and including 2027-04-30, and must be repeated by then.
//! - The pledge is signed once per account. A new account after a progression starts its
//!   own clock (the FAQ: the pledge is signed again on progressing to the next stage).
//! - A restricted account still signs in (to the account pages, and to relying parties
//!   that do not require compliance); only relying parties registered with
//!   `--requires-compliance` refuse it.

/// Days from activation to complete both the pledge and INFOSS.
pub const GRACE_DAYS: i64 = 90;
/// How long one INFOSS completion counts.
pub const INFOSS_VALID_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// What is recorded for one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ComplianceRecord {
    /// Unix seconds; the start of the 90-day period.
    pub activated_at: i64,
    pub pledge_completed_at: Option<i64>,
    pub infoss_completed_at: Option<i64>,
}

/// Something the person still has to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The pledge has never been signed.
    Pledge,
    /// INFOSS has never been completed.
    Infoss,
    /// INFOSS was completed, but more than a year ago.
    InfossRenewal,
}

/// The compliance state of an account at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceStatus {
    /// Outstanding requirements, pledge first; empty when everything is done.
    pub outstanding: Vec<Requirement>,
    /// The end of the initial period (activation + 90 days).
    pub deadline: i64,
    /// When the current INFOSS completion stops counting, if there is one.
    pub infoss_due: Option<i64>,
    /// Past the deadline with something outstanding: compliance-gated relying parties
    /// refuse the account.
    pub restricted: bool,
}

impl ComplianceRecord {
    /// The state at `now`.
    pub fn status(&self, now: i64) -> ComplianceStatus {
        let deadline = self.activated_at + GRACE_DAYS * DAY;
        let infoss_due = self
            .infoss_completed_at
            .map(|at| at + INFOSS_VALID_DAYS * DAY);
        let mut outstanding = Vec::new();
        if self.pledge_completed_at.is_none() {
            outstanding.push(Requirement::Pledge);
        }
        match infoss_due {
            None => outstanding.push(Requirement::Infoss),
            Some(due) if now >= due => outstanding.push(Requirement::InfossRenewal),
            Some(_) => {}
        }
        ComplianceStatus {
            restricted: now >= deadline && !outstanding.is_empty(),
            outstanding,
            deadline,
            infoss_due,
        }
    }
}

impl Requirement {
    /// What to do and where, in English and Japanese, for the refusal and account pages.
    pub fn instruction(self) -> &'static str {
        match self {
            Self::Pledge => {
                "Sign the Pledge for Using the UEC Information Systems (on the ITC web site, \
                 \"情報システム利用の誓約書\"). / 情報システム利用の誓約書を提出してください(情報基盤センターのウェブサイト)。"
            }
            Self::Infoss => {
                "Complete the INFOSS information ethics e-learning (on WebClass). \
                 / 情報倫理e-ラーニング(INFOSS)を受講してください(WebClass)。"
            }
            Self::InfossRenewal => {
                "Your INFOSS information ethics e-learning is more than a year old: take this \
                 year's course (on WebClass). / 情報倫理e-ラーニング(INFOSS)の受講から1年以上経過しています。今年度分を受講してください(WebClass)。"
            }
        }
    }

    /// The machine name, for logs, audit events and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pledge => "pledge",
            Self::Infoss => "infoss",
            Self::InfossRenewal => "infoss_renewal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn record(pledge: Option<i64>, infoss: Option<i64>) -> ComplianceRecord {
        ComplianceRecord {
            activated_at: T0,
            pledge_completed_at: pledge,
            infoss_completed_at: infoss,
        }
    }

    #[test]
    fn nothing_done_is_outstanding_but_not_restricted_within_90_days() {
        let s = record(None, None).status(T0 + 90 * DAY - 1);
        assert_eq!(
            s.outstanding,
            vec![Requirement::Pledge, Requirement::Infoss]
        );
        assert!(!s.restricted);
        assert_eq!(s.deadline, T0 + 90 * DAY);
    }

    #[test]
    fn anything_missing_restricts_from_day_90() {
        let at = T0 + 90 * DAY;
        assert!(record(None, None).status(at).restricted);
        assert!(record(Some(T0), None).status(at).restricted);
        assert!(record(None, Some(T0)).status(at).restricted);
        let done = record(Some(T0), Some(T0)).status(at);
        assert!(!done.restricted);
        assert!(done.outstanding.is_empty());
    }

    #[test]
    fn infoss_counts_for_365_days_then_must_be_repeated() {
        let infoss = T0 + 10 * DAY;
        let r = record(Some(T0), Some(infoss));
        let due = infoss + 365 * DAY;
        assert_eq!(r.status(due - 1).infoss_due, Some(due));
        assert!(!r.status(due - 1).restricted);
        let late = r.status(due);
        assert!(late.restricted);
        assert_eq!(late.outstanding, vec![Requirement::InfossRenewal]);
    }

    #[test]
    fn an_old_infoss_within_the_grace_period_is_outstanding_but_not_restricting() {
        // Completed long before activation (e.g. recorded by a bulk import of old data).
        let r = record(Some(T0), Some(T0 - 400 * DAY));
        let s = r.status(T0 + DAY);
        assert_eq!(s.outstanding, vec![Requirement::InfossRenewal]);
        assert!(!s.restricted);
        assert!(r.status(T0 + 90 * DAY).restricted);
    }

    #[test]
    fn every_requirement_says_what_to_do_in_both_languages() {
        for r in [
            Requirement::Pledge,
            Requirement::Infoss,
            Requirement::InfossRenewal,
        ] {
            let text = r.instruction();
            assert!(text.contains(" / "), "{text}");
            assert!(!text.is_ascii(), "{text}");
        }
        assert!(Requirement::Infoss.instruction().contains("INFOSS"));
    }
}
