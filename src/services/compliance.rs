//! Recording pledge and INFOSS completions from the ITC's lists
//! (`uec-idp compliance import FILE.csv`).
//!
//! The file: a header row `id,pledge_completed,infoss_completed`, then one account per row
//! with dates `YYYY-MM-DD` (Japan time; either may be empty, not both). Every row is
//! checked; bad rows are reported with their line numbers and the good ones recorded, in
//! one transaction. A later date wins and a recorded date never moves backwards, so the
//! same file can be imported again safely (the second run changes nothing).
//! Fields are plain: no commas inside them, surrounding double quotes are removed.

use chrono::{NaiveDate, NaiveTime};

use crate::domain::account::AccountId;
use crate::services::ServiceError;
use crate::store::accounts::{self, Recorded};
use crate::store::audit::{self, AuditEvent};
use crate::store::{Db, write_tx};

pub const HEADER: [&str; 3] = ["id", "pledge_completed", "infoss_completed"];
const JST_OFFSET_SECS: i64 = 9 * 3600;

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read (blank lines are not rows).
    pub rows: usize,
    /// Rows that moved a date forward.
    pub recorded: usize,
    /// Good rows that changed nothing (already recorded, or an older date).
    pub unchanged: usize,
    pub refused: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line 1: the header must be {:?}", HEADER.join(","))]
    Header,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A checked row.
#[derive(Debug, PartialEq, Eq)]
struct Completion {
    line: usize,
    id: String,
    pledge: Option<i64>,
    infoss: Option<i64>,
}

pub fn import(db: &Db, text: &str, now: i64) -> Result<ImportReport, ImportError> {
    let (completions, mut report) = parse(text, now)?;
    let mut conn = db.conn().map_err(ServiceError::from)?;
    let (recorded, unchanged, unknown) = write_tx(&mut conn, |conn| {
        let (mut recorded, mut unchanged, mut unknown) = (0, 0, Vec::new());
        for c in &completions {
            match accounts::record_completions(conn, &c.id, c.pledge, c.infoss, now)? {
                Recorded::Updated => {
                    recorded += 1;
                    audit::record(
                        conn,
                        AuditEvent {
                            at: now,
                            kind: "compliance_recorded",
                            account_id: Some(&c.id),
                            ..Default::default()
                        },
                    )?;
                }
                Recorded::Unchanged => unchanged += 1,
                Recorded::NoSuchAccount => unknown.push(RowError {
                    line: c.line,
                    message: format!("no account {}", c.id),
                }),
            }
        }
        Ok::<_, ServiceError>((recorded, unchanged, unknown))
    })?;
    report.recorded = recorded;
    report.unchanged = unchanged;
    report.refused.extend(unknown);
    report.refused.sort_by_key(|e| e.line);
    Ok(report)
}

/// Checks the header and every row; returns the good rows and a report of the bad ones.
fn parse(text: &str, now: i64) -> Result<(Vec<Completion>, ImportReport), ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = lines.next().map(|(_, l)| fields(l)).unwrap_or_default();
    let header: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if header != HEADER {
        return Err(ImportError::Header);
    }
    let mut report = ImportReport::default();
    let mut good = Vec::new();
    for (line, raw) in lines {
        if raw.trim().is_empty() {
            continue;
        }
        report.rows += 1;
        match row(raw, now) {
            Ok((id, pledge, infoss)) => good.push(Completion {
                line,
                id,
                pledge,
                infoss,
            }),
            Err(message) => report.refused.push(RowError { line, message }),
        }
    }
    Ok((good, report))
}

fn fields(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| {
            let f = f.trim();
            f.strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(f)
                .trim()
                .to_string()
        })
        .collect()
}

type Row = (String, Option<i64>, Option<i64>);

fn row(raw: &str, now: i64) -> Result<Row, String> {
    let f = fields(raw);
    let [id, pledge, infoss] = f.as_slice() else {
        return Err(format!("expected 3 fields, found {}", f.len()));
    };
    let id = AccountId::from_login_input(id)
        .ok_or_else(|| format!("{id:?} is not an account ID"))?
        .to_string();
    let date = |name: &str, raw: &str| -> Result<Option<i64>, String> {
        if raw.is_empty() {
            return Ok(None);
        }
        let at = start_of_day_jst(raw)
            .ok_or_else(|| format!("{name}: {raw:?} is not a date (YYYY-MM-DD)"))?;
        if at > now {
            return Err(format!("{name}: {raw} is in the future"));
        }
        Ok(Some(at))
    };
    let pledge = date("pledge_completed", pledge)?;
    let infoss = date("infoss_completed", infoss)?;
    if pledge.is_none() && infoss.is_none() {
        return Err("neither date is given".into());
    }
    Ok((id, pledge, infoss))
}

/// The start of a day in Japan, as Unix seconds.
fn start_of_day_jst(raw: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(date.and_time(NaiveTime::MIN).and_utc().timestamp() - JST_OFFSET_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2027-01-01T00:00+09:00
    const NOW: i64 = 1_798_729_200;

    #[test]
    fn dates_are_the_start_of_the_day_in_japan() {
        assert_eq!(start_of_day_jst("2027-01-01"), Some(NOW));
        assert_eq!(start_of_day_jst("2027-02-30"), None);
        assert_eq!(start_of_day_jst("1/2/2027"), None);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_good_rows_kept() {
        let text = "\u{feff}id,pledge_completed,infoss_completed\r\n\
                    a1830000,2026-04-10,2026-05-01\r\n\
                    \r\n\
                    \"A1830001\",,2026-05-02\r\n\
                    a1830002,2026-13-01,\r\n\
                    a1830003,,\r\n\
                    a1830004,2026-04-10\r\n\
                    bad id,2026-04-10,\r\n\
                    a1830005,2027-01-02,\r\n";
        let (good, report) = parse(text, NOW).expect("header ok");
        assert_eq!(
            good.iter()
                .map(|c| (c.line, c.id.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "a1830000"), (4, "a1830001")]
        );
        assert_eq!(good[1].pledge, None);
        assert_eq!(report.rows, 7);
        let lines: Vec<usize> = report.refused.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![5, 6, 7, 8, 9]);
        assert!(report.refused[0].message.contains("pledge_completed"));
        assert!(report.refused[4].message.contains("future"));
    }

    #[test]
    fn a_wrong_header_refuses_the_whole_file() {
        for text in ["", "a1830000,2026-04-10,\n", "id,pledge,infoss\n"] {
            assert!(
                matches!(parse(text, NOW), Err(ImportError::Header)),
                "{text:?}"
            );
        }
    }
}
