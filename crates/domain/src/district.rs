//! The district's own facts that decide dates: its offset from UTC (what "today" is for
//! deadlines, overdue hazards and compliance) and how long a hazard may be overdue before the
//! bureau lists it for supervision. Built once from the `[district]` settings.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use serde::{Deserialize, Serialize};

/// The district's date rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct District {
    /// The offset from UTC in minutes (480 = UTC+8).
    pub utc_offset_minutes: i32,
    /// Days a hazard may be overdue before the bureau lists it for supervision (掛牌督辦).
    pub listing_overdue_days: i64,
}

impl Default for District {
    fn default() -> Self {
        District {
            utc_offset_minutes: 480,
            listing_overdue_days: 7,
        }
    }
}

impl District {
    /// The district's time zone as a fixed offset (UTC if the setting is out of range).
    pub fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_minutes.saturating_mul(60)).unwrap_or(Utc.fix())
    }

    /// Today's date in the district.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.offset()).date_naive()
    }

    /// An instant (milliseconds since the epoch) in the district's time zone.
    pub fn local(&self, millis: crate::Millis) -> Option<DateTime<FixedOffset>> {
        DateTime::from_timestamp_millis(millis).map(|t| t.with_timezone(&self.offset()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_falls_on_the_districts_date() {
        let d = District::default();
        // 2026-12-01 17:00 UTC is already 2 December at UTC+8.
        let t = DateTime::parse_from_rfc3339("2026-12-01T17:00:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(d.local(t).unwrap().date_naive().to_string(), "2026-12-02");
        let utc = District {
            utc_offset_minutes: 0,
            ..d
        };
        assert_eq!(utc.local(t).unwrap().date_naive().to_string(), "2026-12-01");
        let broken = District {
            utc_offset_minutes: 100_000,
            ..d
        };
        assert_eq!(broken.offset(), Utc.fix());
    }
}
