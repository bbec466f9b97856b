//! Task ids: `YYYYMMDD-HHMMSS-xxxxxx`, readable and sorting by creation time.

use super::events::{TaskId, now_ms};

/// `YYYYMMDD-HHMMSS-xxxx`: sorts by creation time, readable, unique enough for one machine.
pub(crate) fn new_task_id() -> TaskId {
    let ms = now_ms();
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:06x}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        fastrand::u32(..0x100_0000)
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn task_ids_sort_and_are_distinct() {
        let a = new_task_id();
        assert_eq!(a.len(), "20261127-100037-ab12cd".len());
        assert_ne!(a, new_task_id());
    }
}
