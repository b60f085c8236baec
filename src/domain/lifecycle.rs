//! How long an account lives (DOMAIN.md "Validity"): until its end date plus a grace period
//! that depends on the affiliation, then it is deleted; reminders go out before that.
//!
//! A non-degree student is recognised by the student number's third digit being 9 (the ID's
//! fourth character, after the initial), whatever affiliation was recorded.

use chrono::{DateTime, FixedOffset, Months};

use crate::domain::account::{Account, Affiliation};

/// Grace periods in months, by kind of affiliation (configurable; the guide's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraceMonths {
    pub students: u32,
    pub faculty_and_staff: u32,
    pub non_degree_and_limited_term: u32,
}

impl Default for GraceMonths {
    fn default() -> Self {
        Self {
            students: 2,
            faculty_and_staff: 6,
            non_degree_and_limited_term: 0,
        }
    }
}

/// Whether the ID is a non-degree student's: a letter, then a student number whose third
/// digit is 9.
pub fn is_non_degree_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.len() == 8
        && id[1..].bytes().all(|b| b.is_ascii_digit())
        && id.as_bytes()[3] == b'9'
}

pub fn grace_months(account: &Account, grace: GraceMonths) -> u32 {
    match account.affiliation {
        Affiliation::Student | Affiliation::Graduate if is_non_degree_id(account.id.as_str()) => {
            grace.non_degree_and_limited_term
        }
        Affiliation::Student | Affiliation::Graduate => grace.students,
        Affiliation::Faculty | Affiliation::Staff => grace.faculty_and_staff,
        Affiliation::NonDegree | Affiliation::LimitedTermStaff => grace.non_degree_and_limited_term,
    }
}

/// When the account is deleted: its end (`valid_until`, the first instant after the last
/// day) plus the grace period in calendar months, counted in Japan time. `None` for an
/// open-ended account.
pub fn deletion_at(account: &Account, grace: GraceMonths) -> Option<i64> {
    let jst = FixedOffset::east_opt(9 * 3600)?;
    let end = DateTime::from_timestamp(account.valid_until?, 0)?.with_timezone(&jst);
    let at = end.checked_add_months(Months::new(grace_months(account, grace)))?;
    Some(at.timestamp())
}

/// The reminder due now, if any: the smallest of `reminder_days` whose moment has come
/// (so an account first seen 5 days before deletion gets the 7-day one, not both).
pub fn due_reminder(deletion_at: i64, now: i64, reminder_days: &[i64]) -> Option<i64> {
    if now >= deletion_at {
        return None;
    }
    reminder_days
        .iter()
        .copied()
        .filter(|days| now >= deletion_at - days * 86_400)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountId, AccountStatus};

    const DAY: i64 = 86_400;
    // 2027-04-01T00:00+09:00, the end of a 2027-03-31 validity.
    const END: i64 = 1_806_505_200;

    fn account(id: &str, affiliation: Affiliation) -> Account {
        Account {
            id: AccountId::parse(id).unwrap(),
            sub: "s".into(),
            name: "n".into(),
            affiliation,
            personal_email: None,
            email_alias: None,
            valid_until: Some(END),
            status: AccountStatus::Active,
            created_at: 0,
            previous_account_id: None,
            pledge_completed_at: None,
            infoss_completed_at: None,
        }
    }

    #[test]
    fn grace_depends_on_affiliation_and_the_non_degree_digit() {
        let g = GraceMonths::default();
        // 2027-06-01T00:00+09:00, 2027-10-01T00:00+09:00.
        let (two, six) = (1_811_775_600, 1_822_316_400);
        assert_eq!(
            deletion_at(&account("a1830000", Affiliation::Student), g),
            Some(two)
        );
        assert_eq!(
            deletion_at(&account("a1830000", Affiliation::Graduate), g),
            Some(two)
        );
        assert_eq!(
            deletion_at(&account("a1410000", Affiliation::Faculty), g),
            Some(six)
        );
        assert_eq!(
            deletion_at(&account("a1410000", Affiliation::Staff), g),
            Some(six)
        );
        assert_eq!(
            deletion_at(&account("a1890000", Affiliation::Student), g),
            Some(END),
            "third digit 9"
        );
        assert_eq!(
            deletion_at(&account("a1830000", Affiliation::NonDegree), g),
            Some(END)
        );
        assert_eq!(
            deletion_at(&account("a1410000", Affiliation::LimitedTermStaff), g),
            Some(END)
        );
        let open = Account {
            valid_until: None,
            ..account("a1830000", Affiliation::Student)
        };
        assert_eq!(deletion_at(&open, g), None);
    }

    #[test]
    fn non_degree_ids() {
        assert!(is_non_degree_id("a1890000"));
        for id in ["a1830000", "a9830000", "itc-admin", "a189", ""] {
            assert!(!is_non_degree_id(id), "{id}");
        }
    }

    #[test]
    fn the_nearest_due_reminder_and_none_after_deletion() {
        let at = 100 * DAY;
        let days = [30, 7];
        assert_eq!(due_reminder(at, at - 31 * DAY, &days), None);
        assert_eq!(due_reminder(at, at - 30 * DAY, &days), Some(30));
        assert_eq!(due_reminder(at, at - 8 * DAY, &days), Some(30));
        assert_eq!(due_reminder(at, at - 7 * DAY, &days), Some(7));
        assert_eq!(due_reminder(at, at - DAY, &days), Some(7));
        assert_eq!(due_reminder(at, at, &days), None);
    }
}
