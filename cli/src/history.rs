//! The line a command adds to its output's `history` attribute: when it ran, then the
//! command line, as CDO and NCO write theirs (they date it in `ctime` form, local time;
//! this is UTC in ISO 8601, which sorts and parses without a time zone).

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-12-06T14:10:24Z: chunkwise reduce --op mean ...`: the time `now` (UTC, ISO 8601)
/// and the command line `args`, each argument quoted where a shell would need it.
pub(crate) fn entry(args: impl IntoIterator<Item = String>, now: SystemTime) -> String {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let command: Vec<String> = args.into_iter().map(|a| quoted(&a)).collect();
    format!("{}: {}", utc(seconds), command.join(" "))
}

/// `seconds` after 1970-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(seconds: i64) -> String {
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm, by
/// 400-year eras of 146097 days that begin on March 1st).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `arg` as a POSIX shell reads it back: unchanged if it holds only characters no shell
/// treats specially, else in single quotes (a single quote inside written `'\''`).
fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    match plain {
        true => arg.to_string(),
        false => format!("'{}'", arg.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_in_iso_8601() {
        // Checked with `date -u -d @N +%FT%TZ`.
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_955_199, "2000-03-01T23:59:59Z"),
            (1_798_726_224, "2026-12-31T14:10:24Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (-86_400, "1969-12-31T00:00:00Z"),
        ] {
            assert_eq!(utc(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn an_entry_is_the_time_then_the_command_as_a_shell_reads_it() {
        let args = [
            "chunkwise",
            "slice",
            "--dim",
            "time",
            "in put.zarr",
            "it's",
            "",
        ];
        let entry = entry(
            args.map(String::from),
            UNIX_EPOCH + Duration::from_secs(951_782_400),
        );
        assert_eq!(
            entry,
            r"2000-02-29T00:00:00Z: chunkwise slice --dim time 'in put.zarr' 'it'\''s' ''"
        );
    }
}
