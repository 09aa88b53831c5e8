//! The source: the old app's SQLite file, read-only, and how its values are read.

use std::{collections::HashSet, path::Path};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, SqlxSqliteConnector, Statement, Value,
    sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use super::{AuditLogs, Conversations, Messages, PAGE, Sessions, Skip, Table, Users};

/// A Prisma table and the columns we read from it, in the order [`Row`] holds them (the id first).
pub struct Spec {
    pub prisma: &'static str,
    pub ours: &'static str,
    pub columns: &'static [&'static str],
}

pub(super) struct Source {
    pub(super) db: DatabaseConnection,
}

impl Source {
    pub(super) async fn open(path: &Path) -> anyhow::Result<Self> {
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !metadata.is_file() {
            bail!("{} is not a file", path.display());
        }
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open {} as a SQLite database", path.display()))?;
        let source = Self { db: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool) };
        source.check_schema(path).await?;
        Ok(source)
    }

    /// Fails clearly, before anything is written, when a table or column is missing.
    pub(super) async fn check_schema(&self, path: &Path) -> anyhow::Result<()> {
        let context = || format!("cannot read {} as a SQLite database", path.display());
        for spec in [&Users::SPEC, &Sessions::SPEC, &Conversations::SPEC, &Messages::SPEC, &AuditLogs::SPEC] {
            let rows = self
                .db
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT name FROM pragma_table_info(?)",
                    [Value::from(spec.prisma)],
                ))
                .await
                .with_context(context)?;
            let present: HashSet<String> =
                rows.iter().filter_map(|row| row.try_get_by_index::<String>(0).ok()).collect();
            if present.is_empty() {
                bail!(
                    "{} is not the old app's Prisma database: it has no table \"{}\" \
                     (expected User, Session, Conversation, Message and AuditLog)",
                    path.display(),
                    spec.prisma
                );
            }
            let missing: Vec<&str> = spec.columns.iter().copied().filter(|c| !present.contains(*c)).collect();
            if !missing.is_empty() {
                bail!(
                    "{}: table \"{}\" has no column {} (is this the old app's Prisma database?)",
                    path.display(),
                    spec.prisma,
                    missing.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                );
            }
        }
        Ok(())
    }

    pub(super) async fn count(&self, spec: &Spec) -> anyhow::Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", spec.prisma);
        let row = self.db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await?;
        let count: i64 = row.map(|row| row.try_get_by_index(0)).transpose()?.unwrap_or(0);
        Ok(count.max(0) as u64)
    }

    /// The next page in id order after `after`. Every value is read as text (`CAST`): SQLite
    /// columns may hold any type, and [`parse_timestamp`] decides what a timestamp's text means.
    pub(super) async fn page(&self, spec: &Spec, after: Option<&str>) -> anyhow::Result<Vec<Row>> {
        let columns: Vec<String> = spec.columns.iter().map(|c| format!("CAST(\"{c}\" AS TEXT)")).collect();
        let mut sql = format!("SELECT {} FROM \"{}\"", columns.join(", "), spec.prisma);
        let mut values = Vec::new();
        if let Some(after) = after {
            sql.push_str(" WHERE \"id\" > ?");
            values.push(Value::from(after));
        }
        sql.push_str(&format!(" ORDER BY \"id\" LIMIT {PAGE}"));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values))
            .await
            .with_context(|| format!("cannot read table \"{}\" of the old database", spec.prisma))?;
        rows.iter()
            .map(|row| {
                let values = (0..spec.columns.len())
                    .map(|i| row.try_get_by_index::<Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row { columns: spec.columns, values })
            })
            .collect()
    }

    /// Which of `ids` exist in a source table (to tell a skipped parent from a missing one).
    pub(super) async fn existing(&self, table: &str, ids: &[&str]) -> anyhow::Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT \"id\" FROM \"{table}\" WHERE \"id\" IN ({placeholders})");
        let values = ids.iter().map(|id| Value::from(*id));
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
        Ok(rows.iter().filter_map(|row| row.try_get_by_index::<String>(0).ok()).collect())
    }
}

/// One source row, every value as text (NULL as `None`).
pub(super) struct Row {
    pub(super) columns: &'static [&'static str],
    pub(super) values: Vec<Option<String>>,
}

impl Row {
    pub(super) fn id(&self) -> Option<&str> {
        self.values[0].as_deref()
    }

    pub(super) fn optional(&self, i: usize) -> Option<String> {
        self.values[i].clone()
    }

    pub(super) fn required(&self, i: usize) -> Result<String, Skip> {
        self.optional(i).ok_or_else(|| Skip::invalid(format!("{} is NULL", self.columns[i])))
    }

    /// A required value that must fit a column of `max` characters (ids, tokens).
    pub(super) fn bounded(&self, i: usize, max: usize) -> Result<String, Skip> {
        let value = self.required(i)?;
        if value.is_empty() {
            return Err(Skip::invalid(format!("{} is empty", self.columns[i])));
        }
        if value.chars().count() > max {
            return Err(Skip::invalid(format!("{} is longer than {max} characters", self.columns[i])));
        }
        Ok(value)
    }

    pub(super) fn time(&self, i: usize) -> Result<DateTime<Utc>, Skip> {
        let raw = self.required(i)?;
        let time = parse_timestamp(&raw)
            .ok_or_else(|| Skip::invalid(format!("{} is not a readable timestamp: {raw:?}", self.columns[i])))?;
        if !storable(time) {
            return Err(Skip::invalid(format!(
                "{} {} is outside 1970-01-01 00:00:01 – 2038-01-19 03:14:07 UTC, the range the app can store on MySQL",
                self.columns[i],
                time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )));
        }
        Ok(time)
    }

    pub(super) fn optional_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, Skip> {
        match self.optional(i) {
            None => Ok(None),
            Some(_) => self.time(i).map(Some),
        }
    }

    /// An enum value, matched case-insensitively after trimming; anything else is refused.
    pub(super) fn choice<T: Copy>(&self, i: usize, options: &[(&str, T)]) -> Result<T, Skip> {
        let raw = self.required(i)?;
        let wanted = raw.trim().to_ascii_uppercase();
        options.iter().find(|(name, _)| *name == wanted).map(|(_, value)| *value).ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            Skip::invalid(format!("{} {raw:?} is not one of {}", self.columns[i], names.join(", ")))
        })
    }
}

/// Reads a Prisma SQLite DateTime value (as text, see [`Source::page`]) into UTC.
///
/// Accepted: integer milliseconds since the Unix epoch (what Prisma writes; numeric strings and
/// fractional milliseconds too), RFC 3339 / ISO 8601 with `T` or a space, with or without
/// fractional seconds and offset (no offset means UTC), a bare date, and RFC 2822. Years outside
/// 1000–9999 (MySQL DATETIME's range) are refused.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    let fractional = || text.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) && text.parse::<f64>().is_ok();
    let parsed = if let Ok(millis) = text.parse::<i64>() {
        DateTime::from_timestamp_millis(millis)
    } else if fractional() {
        let micros = (text.parse::<f64>().unwrap_or(f64::NAN) * 1000.0).round();
        (micros.is_finite() && micros.abs() < 9.0e18).then(|| DateTime::from_timestamp_micros(micros as i64)).flatten()
    } else {
        parse_text_timestamp(text)
    };
    parsed.filter(|time| (1000..=9999).contains(&time.year()))
}

pub(super) fn parse_text_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    // `Z` spelled as an offset, so one set of formats covers both.
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{}+00:00", rest.trim_end()),
        None => text.to_string(),
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f %#z"] {
        if let Ok(time) = DateTime::parse_from_str(&text, format) {
            return Some(time.to_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(&text, format) {
            return Some(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|time| time.and_utc());
    }
    DateTime::parse_from_rfc2822(&text).ok().map(|time| time.to_utc())
}

/// Whether the app can store `time` on every target. Our columns are DATETIME(6), but SeaORM
/// binds a `DateTime<Utc>` as a MySQL TIMESTAMP parameter, which MySQL/MariaDB turn into NULL
/// outside TIMESTAMP's range (a NOT NULL column then refuses the row; a nullable one, like
/// `banned_at`, would silently lose the value). The same rule applies on SQLite so an import
/// gives the same result on either target.
pub(super) fn storable(time: DateTime<Utc>) -> bool {
    let first = DateTime::from_timestamp(1, 0);
    let last = DateTime::from_timestamp(i64::from(i32::MAX), 999_999_999);
    first.is_some_and(|first| time >= first) && last.is_some_and(|last| time <= last)
}

/// `value` cut to `max_chars` characters and `max_bytes` bytes (on a character boundary), and
/// whether anything was cut.
pub(super) fn shorten(value: String, max_chars: usize, max_bytes: usize) -> (String, bool) {
    let mut end = value.len().min(max_bytes);
    if let Some((index, _)) = value.char_indices().nth(max_chars) {
        end = end.min(index);
    }
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    if end == value.len() { (value, false) } else { (value[..end].to_string(), true) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::TimeDelta::milliseconds(ms.into())
    }

    #[test]
    fn timestamps_in_every_form_prisma_and_other_tools_write() {
        let expected = utc(2023, 11, 14, 22, 13, 20, 123);
        // Prisma's native SQLite connector: integer milliseconds (read as text, see `page`).
        assert_eq!(parse_timestamp("1700000000123"), Some(expected));
        assert_eq!(parse_timestamp(" 1700000000123 "), Some(expected));
        assert_eq!(parse_timestamp("1700000000123.0"), Some(expected));
        assert_eq!(parse_timestamp("1.700000000123e12"), Some(expected));
        // ISO 8601 / RFC 3339 (driver adapters, JavaScript's toISOString, other tools).
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123Z"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123+00:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-15T06:13:20.123+08:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123Z"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123 +00:00"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123"), Some(expected));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.123"), Some(expected));
        // SQLite's CURRENT_TIMESTAMP (a column default written without Prisma), UTC.
        assert_eq!(parse_timestamp("2023-11-14 22:13:20"), Some(utc(2023, 11, 14, 22, 13, 20, 0)));
        // Prisma's DDL spelling of a literal default.
        assert_eq!(parse_timestamp("1900-01-01 00:00:00 +00:00"), Some(utc(1900, 1, 1, 0, 0, 0, 0)));
        assert_eq!(parse_timestamp("2023-11-14"), Some(utc(2023, 11, 14, 0, 0, 0, 0)));
        assert_eq!(parse_timestamp("Tue, 14 Nov 2023 22:13:20 +0000"), Some(utc(2023, 11, 14, 22, 13, 20, 0)));
        assert_eq!(parse_timestamp("-1000"), Some(utc(1969, 12, 31, 23, 59, 59, 0)));
    }

    #[test]
    fn unreadable_or_out_of_range_timestamps_are_refused() {
        for raw in ["", "yesterday", "NaN", "inf", "2023-13-01", "2023-11-14T25:00:00Z", "99999999999999999", "1e300"] {
            assert_eq!(parse_timestamp(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn only_timestamps_mysql_can_take_are_storable() {
        assert!(storable(utc(1970, 1, 1, 0, 0, 1, 0)));
        assert!(storable(utc(2038, 1, 19, 3, 14, 7, 999)));
        assert!(!storable(utc(1969, 12, 31, 23, 59, 59, 0)));
        assert!(!storable(utc(2038, 1, 19, 3, 14, 8, 0)));
        assert!(!storable(utc(2100, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn shorten_cuts_on_character_boundaries() {
        assert_eq!(shorten("abc".into(), 5, 5), ("abc".into(), false));
        assert_eq!(shorten("abcdef".into(), 3, usize::MAX), ("abc".into(), true));
        // 3-byte characters: 7 bytes allow two of them.
        assert_eq!(shorten("易经问卦".into(), usize::MAX, 7), ("易经".into(), true));
        assert_eq!(shorten("易经问卦".into(), 4, 12), ("易经问卦".into(), false));
    }
}
