//! Small conversions between what staff type or read and the desk's values: money typed
//! in yuan to integer fen (never through floats), waits in minutes, times in the centre's
//! zone, the standard's words for stages, channels and payment methods in both
//! languages, and the hub's upstream sync state as one line of the status bar.
//!
//! Pure functions: no IO, no clock, no Slint.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use domain::{Channel, Fen, RequestStage, ServiceType};
use protocol::PaymentMethod;
use protocol::sync::SyncStatus;
use ui::Lang;

/// Parses an amount typed in yuan (`120`, `120.5`, `¥1,200.50`) into fen. At most two
/// decimals; no sign; no floats on the way.
pub fn parse_yuan(text: &str) -> Option<Fen> {
    let t: String = text
        .trim()
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    if t.is_empty() {
        return None;
    }
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
    {
        return None;
    }
    let yuan: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    yuan.checked_mul(100)?.checked_add(fen).map(Fen)
}

/// Whole minutes, rounded down (`0` under a minute).
pub fn minutes(secs: u32) -> u32 {
    secs / 60
}

/// `12 min` / `12 分钟`; `1 h 05 min` / `1 小时 05 分`.
pub fn wait_text(secs: u32, lang: Lang) -> String {
    let m = minutes(secs);
    match (m >= 60, lang) {
        (false, Lang::ZhCn) => format!("{m} 分钟"),
        (false, Lang::En) => format!("{m} min"),
        (true, Lang::ZhCn) => format!("{} 小时 {:02} 分", m / 60, m % 60),
        (true, Lang::En) => format!("{} h {:02} min", m / 60, m % 60),
    }
}

/// The centre's time zone from the catalogue's minutes east of UTC (China: +480).
pub fn centre_zone(utc_offset_minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(utc_offset_minutes.saturating_mul(60))
        .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix()))
}

use chrono::Offset as _;

/// A moment as the centre's local date and time.
pub fn local(t: DateTime<Utc>, zone: FixedOffset) -> NaiveDateTime {
    t.with_timezone(&zone).naive_local()
}

/// `2026-03-02 09:41` in the centre's zone.
pub fn local_text(t: DateTime<Utc>, zone: FixedOffset) -> String {
    local(t, zone).format("%Y-%m-%d %H:%M").to_string()
}

/// `09:41` in the centre's zone.
pub fn clock_text(t: DateTime<Utc>, zone: FixedOffset) -> String {
    local(t, zone).format("%H:%M").to_string()
}

/// Parses a time typed as `YYYY-MM-DD HH:MM` (the agreement's service time).
pub fn parse_local_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M").ok()
}

/// GB/T 8.1: the stage's name.
pub fn stage_name(stage: RequestStage, lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => stage.name_zh(),
        Lang::En => match stage {
            RequestStage::Appointment => "Appointment",
            RequestStage::Acceptance => "Acceptance",
            RequestStage::Processing => "Processing",
            RequestStage::Reply => "Reply",
            RequestStage::Archiving => "Archiving",
            RequestStage::FollowUp => "Follow-up",
            RequestStage::Evaluation => "Evaluation",
        },
    }
}

/// GB/T 4.2.2: how a request reached the centre.
pub fn channel_name(channel: Channel, lang: Lang) -> &'static str {
    let (zh, en) = match channel {
        Channel::OnSite => ("现场", "On site"),
        Channel::Phone => ("电话", "Phone"),
        Channel::Letter => ("信函", "Letter"),
        Channel::Fax => ("传真", "Fax"),
        Channel::Web => ("网络", "Web"),
        Channel::Sms => ("短信", "SMS"),
    };
    lang.pick(zh, en)
}

/// GB/T 8.4.2: the ways a customer can pay.
pub fn method_name(method: PaymentMethod, lang: Lang) -> &'static str {
    let (zh, en) = match method {
        PaymentMethod::Cash => ("现金", "Cash"),
        PaymentMethod::BankCard => ("银行卡", "Bank card"),
        PaymentMethod::Cheque => ("支票", "Cheque"),
        PaymentMethod::Online => ("扫码/在线支付", "QR / online"),
    };
    lang.pick(zh, en)
}

/// The service's standard name (the catalogue may rename it; see `Desk::service_name`).
pub fn service_name(service: ServiceType, lang: Lang) -> &'static str {
    lang.pick(service.name_zh(), service.name_en())
}

/// The payment methods in the order the counter offers them.
pub const METHODS: [PaymentMethod; 4] = [
    PaymentMethod::BankCard,
    PaymentMethod::Cash,
    PaymentMethod::Online,
    PaymentMethod::Cheque,
];

/// How the status bar marks the upstream sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// Nothing waits for headquarters (green).
    Synced,
    /// Events wait, but not for long, and the last attempt went through.
    Pending,
    /// The oldest waits longer than [`SYNC_LATE_SECS`] or the last attempt failed (amber).
    Late,
}

impl SyncLevel {
    /// The number the Slint side switches colours on.
    pub fn code(self) -> i32 {
        match self {
            SyncLevel::Synced => 0,
            SyncLevel::Pending => 1,
            SyncLevel::Late => 2,
        }
    }
}

/// After this long unsent, the sync line turns amber (10 minutes).
pub const SYNC_LATE_SECS: i64 = 600;
/// Most characters of the hub's last sync error shown in the status bar.
const SYNC_ERROR_CHARS: usize = 40;

/// `1,234`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `2 小时前` / `2 h ago`, from the largest whole unit (`不到 1 分钟前` / `under 1 min ago`).
pub fn ago_text(secs: i64, lang: Lang) -> String {
    let secs = secs.max(0);
    let (n, zh, en) = match secs {
        0..60 => return lang.pick("不到 1 分钟前", "under 1 min ago").to_owned(),
        60..3600 => (secs / 60, "分钟", "min"),
        3600..172_800 => (secs / 3600, "小时", "h"),
        _ => (secs / 86_400, "天", "d"),
    };
    match lang {
        Lang::ZhCn => format!("{n} {zh}前"),
        Lang::En => format!("{n} {en} ago"),
    }
}

/// At most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The status bar's line about the hub's sync to headquarters, or `None` when the hub
/// has no headquarters configured: `总部同步：待发 1,234 条，最早 2 小时前` /
/// `HQ sync: 1,234 pending, oldest 2 h ago`, amber when the oldest waits longer than ten
/// minutes or the last attempt failed (with the error, shortened).
pub fn sync_line(s: &SyncStatus, now: DateTime<Utc>, lang: Lang) -> Option<(SyncLevel, String)> {
    if !s.enabled {
        return None;
    }
    let head = lang.pick("总部同步：", "HQ sync: ");
    if s.pending <= 0 {
        return Some((
            SyncLevel::Synced,
            format!("{head}{}", lang.pick("已同步", "synced")),
        ));
    }
    let age = s.oldest_pending_at.map(|t| (now - t).num_seconds());
    let mut text = match lang {
        Lang::ZhCn => format!("{head}待发 {} 条", thousands(s.pending)),
        Lang::En => format!("{head}{} pending", thousands(s.pending)),
    };
    if let Some(age) = age {
        text.push_str(lang.pick("，最早 ", ", oldest "));
        text.push_str(&ago_text(age, lang));
    }
    let error = s.last_error.as_deref().filter(|e| !e.trim().is_empty());
    if let Some(e) = error {
        text.push_str(lang.pick("；错误：", "; error: "));
        text.push_str(&shorten(e, SYNC_ERROR_CHARS));
    }
    let late = error.is_some() || age.is_some_and(|a| a > SYNC_LATE_SECS);
    Some((
        if late {
            SyncLevel::Late
        } else {
            SyncLevel::Pending
        },
        text,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_parse_to_exact_fen() {
        assert_eq!(parse_yuan("120"), Some(Fen(12_000)));
        assert_eq!(parse_yuan("120.5"), Some(Fen(12_050)));
        assert_eq!(parse_yuan("¥1,200.05"), Some(Fen(120_005)));
        assert_eq!(parse_yuan(" 0.07 "), Some(Fen(7)));
        assert_eq!(parse_yuan(".5"), Some(Fen(50)));
        // 0.1 + 0.2 in floats is not 0.3; in fen it is.
        assert_eq!(
            parse_yuan("0.1").unwrap().0 + parse_yuan("0.2").unwrap().0,
            parse_yuan("0.3").unwrap().0
        );
        for bad in [
            "",
            "abc",
            "1.234",
            "-5",
            "1.2.3",
            "99999999999999999999",
            ".",
        ] {
            assert_eq!(parse_yuan(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn waits_read_in_minutes() {
        assert_eq!(wait_text(59, Lang::En), "0 min");
        assert_eq!(wait_text(12 * 60 + 5, Lang::ZhCn), "12 分钟");
        assert_eq!(wait_text(65 * 60, Lang::En), "1 h 05 min");
    }

    #[test]
    fn times_are_the_centres() {
        let t: DateTime<Utc> = "2026-03-02T01:41:00Z".parse().unwrap();
        assert_eq!(local_text(t, centre_zone(480)), "2026-03-02 09:41");
        assert_eq!(clock_text(t, centre_zone(0)), "01:41");
        assert!(parse_local_time("2026-03-02 14:00").is_some());
        assert!(parse_local_time("tomorrow").is_none());
    }

    #[test]
    fn every_stage_has_a_name_in_both_languages() {
        for s in RequestStage::ALL {
            assert!(!stage_name(s, Lang::ZhCn).is_empty());
            assert!(!stage_name(s, Lang::En).is_empty());
        }
        for c in Channel::ALL {
            assert_ne!(channel_name(c, Lang::ZhCn), channel_name(c, Lang::En));
        }
    }

    fn sync(pending: i64, oldest_secs: Option<i64>, error: Option<&str>) -> SyncStatus {
        let now = "2026-03-02T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        SyncStatus {
            enabled: true,
            pending,
            oldest_pending_at: oldest_secs.map(|s| now - chrono::Duration::seconds(s)),
            last_error: error.map(str::to_owned),
            ..SyncStatus::default()
        }
    }

    #[test]
    fn the_sync_line_says_what_waits_for_headquarters() {
        let now = "2026-03-02T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // No headquarters configured: no line at all.
        assert_eq!(sync_line(&SyncStatus::default(), now, Lang::ZhCn), None);
        assert_eq!(
            sync_line(&sync(0, None, None), now, Lang::ZhCn),
            Some((SyncLevel::Synced, "总部同步：已同步".into()))
        );
        assert_eq!(
            sync_line(&sync(0, None, None), now, Lang::En),
            Some((SyncLevel::Synced, "HQ sync: synced".into()))
        );
        assert_eq!(
            sync_line(&sync(1234, Some(7200), None), now, Lang::ZhCn),
            Some((
                SyncLevel::Late,
                "总部同步：待发 1,234 条，最早 2 小时前".into()
            ))
        );
        assert_eq!(
            sync_line(&sync(1234, Some(7200), None), now, Lang::En),
            Some((
                SyncLevel::Late,
                "HQ sync: 1,234 pending, oldest 2 h ago".into()
            ))
        );
        // Under ten minutes and no error: not amber.
        assert_eq!(
            sync_line(&sync(3, Some(120), None), now, Lang::En),
            Some((
                SyncLevel::Pending,
                "HQ sync: 3 pending, oldest 2 min ago".into()
            ))
        );
        assert_eq!(
            sync_line(&sync(3, Some(600), None), now, Lang::En).map(|l| l.0),
            Some(SyncLevel::Pending)
        );
        assert_eq!(
            sync_line(&sync(3, Some(601), None), now, Lang::En).map(|l| l.0),
            Some(SyncLevel::Late)
        );
        // An error turns it amber at once, shortened.
        let long = "headquarters unreachable: connection refused (os error 111) while posting";
        let (level, text) = sync_line(&sync(3, Some(5), Some(long)), now, Lang::En).unwrap();
        assert_eq!(level, SyncLevel::Late);
        assert!(
            text.starts_with("HQ sync: 3 pending, oldest under 1 min ago; error: headquarters"),
            "{text}"
        );
        assert!(text.ends_with('…') && text.chars().count() < 100, "{text}");
    }

    #[test]
    fn counts_and_ages_read_naturally() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(ago_text(59, Lang::En), "under 1 min ago");
        assert_eq!(ago_text(3599, Lang::ZhCn), "59 分钟前");
        assert_eq!(ago_text(3 * 86_400, Lang::En), "3 d ago");
    }
}
