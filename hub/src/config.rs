//! The centre's configuration (GB/T 5.1): one TOML file with the centre's published
//! information (5.3), services and their fees, counters, staff and skills (5.2), opening
//! hours, the holiday calendar and security settings. Validated at start with messages
//! that name the bad key; every key has a built-in default, so the hub also runs with no
//! file at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate, NaiveTime};
use domain::{FeeItem, Fen, Role, ServiceSpec, ServiceType, Skill, SkillGrant, WorkCalendar};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

// ------------------------------------------------------------------ the file's shape

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    centre: RawCentre,
    #[serde(default)]
    day: RawDay,
    #[serde(default)]
    services: Vec<RawService>,
    #[serde(default)]
    counters: Vec<RawCounter>,
    #[serde(default)]
    staff: Vec<RawStaff>,
    #[serde(default)]
    calendar: RawCalendar,
    #[serde(default)]
    opening_hours: BTreeMap<String, String>,
    #[serde(default)]
    security: RawSecurity,
    #[serde(default)]
    knowledge: RawKnowledge,
    #[serde(default)]
    follow_up: RawFollowUp,
    #[serde(default)]
    appointments: RawAppointments,
    #[serde(default)]
    sms: RawSms,
    hq: Option<RawHq>,
    #[serde(default)]
    backup: RawBackup,
    #[serde(default)]
    privacy: RawPrivacy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPrivacy {
    /// Days a customer's contact is kept after their last request closed.
    retention_days: u32,
}

impl Default for RawPrivacy {
    fn default() -> Self {
        RawPrivacy {
            retention_days: 180,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBackup {
    enabled: bool,
    /// Where backups go (a USB stick, say); relative paths are inside the data directory.
    dir: PathBuf,
    every_minutes: u32,
    keep: u32,
}

impl Default for RawBackup {
    fn default() -> Self {
        RawBackup {
            enabled: true,
            dir: PathBuf::from("backups"),
            every_minutes: 60,
            keep: 24,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHq {
    url: String,
    /// The centre's ingest token; or `token_file`, a file holding it (kept out of the config).
    token: Option<String>,
    token_file: Option<PathBuf>,
    /// A PEM certificate to trust for headquarters (a private CA), besides the system's.
    ca_file: Option<PathBuf>,
    /// The centre's client certificate and its key (PEM), issued by headquarters.
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    #[serde(default = "default_batch")]
    batch_size: u32,
    /// Where the public ticket status page is reached from outside the centre
    /// (headquarters' public address); the QR on tickets points there when set.
    public_url: Option<String>,
}

fn default_batch() -> u32 {
    500
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSms {
    turn_near_ahead: u32,
    reminder_minutes: u32,
    per_phone_per_hour: u32,
    per_minute: u32,
}

impl Default for RawSms {
    fn default() -> Self {
        RawSms {
            turn_near_ahead: 3,
            reminder_minutes: 60,
            per_phone_per_hour: 5,
            per_minute: 20,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawKnowledge {
    /// Replace the built-in entries instead of adding to them.
    replace_builtin: bool,
    faq: Vec<RawFaq>,
    category: Vec<RawCategory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaq {
    id: String,
    service: Option<String>,
    question_zh: String,
    question_en: String,
    answer_zh: String,
    answer_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: String,
    name_zh: String,
    name_en: String,
    #[serde(default)]
    problems: Vec<RawProblem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProblem {
    code: String,
    text_zh: String,
    text_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFollowUp {
    /// Hours after a request is archived before its follow-up call is due.
    after_hours: u32,
}

impl Default for RawFollowUp {
    fn default() -> Self {
        RawFollowUp { after_hours: 24 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAppointments {
    slot_minutes: u32,
    early_minutes: u32,
    late_minutes: u32,
    per_counter: u32,
}

impl Default for RawAppointments {
    fn default() -> Self {
        RawAppointments {
            slot_minutes: 30,
            early_minutes: 30,
            late_minutes: 15,
            per_counter: 1,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCentre {
    id: String,
    name_zh: String,
    name_en: String,
    address: String,
    phone: String,
    qualifications: Vec<String>,
    change_procedure_zh: String,
    change_procedure_en: String,
    /// Minutes east of UTC; China is +480 all year.
    utc_offset_minutes: i32,
}

impl Default for RawCentre {
    fn default() -> Self {
        RawCentre {
            id: "centre-001".into(),
            name_zh: "售后服务中心".into(),
            name_en: "After-sales Service Centre".into(),
            address: String::new(),
            phone: String::new(),
            qualifications: Vec::new(),
            change_procedure_zh: "如需变更服务内容、时间或费用，请到服务窗口办理，变更以书面协议为准。".into(),
            change_procedure_en:
                "To change the service, its time or its fees, ask at a counter; changes take effect in a written agreement."
                    .into(),
            utc_offset_minutes: 480,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDay {
    auto_open_at: Option<String>,
    auto_close_at: Option<String>,
    clock_trusted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    kind: String,
    #[serde(default = "yes")]
    enabled: bool,
    name_zh: Option<String>,
    name_en: Option<String>,
    prefix: Option<String>,
    paid: Option<bool>,
    reply_within_minutes: Option<u32>,
    resolve_within_hours: Option<u32>,
    required_skills: Option<Vec<String>>,
    priority_every: Option<u32>,
    default_service_minutes: Option<u32>,
    wait_limit_minutes: Option<u32>,
    description_zh: Option<String>,
    description_en: Option<String>,
    #[serde(default)]
    fees: Vec<RawFee>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFee {
    code: String,
    name_zh: String,
    name_en: String,
    unit_price_fen: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounter {
    number: u32,
    name: Option<String>,
    services: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    id: String,
    name: String,
    #[serde(default = "staff_role")]
    role: String,
    /// An argon2id PHC string made by `servicehall hash-secret`.
    secret_hash: Option<String>,
    #[serde(default)]
    skills: Vec<RawSkill>,
}

fn staff_role() -> String {
    "staff".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkill {
    skill: String,
    valid_until: Option<NaiveDate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCalendar {
    holidays: Vec<NaiveDate>,
    makeup_workdays: Vec<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSecurity {
    max_failed_logins: u32,
    lockout_minutes: u32,
    session_hours: u32,
    /// Failed logins allowed from one network address per minute, across all accounts.
    failed_logins_per_minute: u32,
    /// The file holding the pepper of stored secrets (default: `pepper` in the data
    /// directory); keep it off the backup medium.
    pepper_file: Option<PathBuf>,
    /// `mtls` (devices enrolled with the hub's CA, every call mutual TLS) or `plain`.
    transport: String,
    /// Extra names and addresses the devices reach the hub by (its TLS certificate).
    server_names: Vec<String>,
    /// How long a device pairing code stays valid.
    pairing_minutes: u32,
    /// How long a device certificate is valid.
    device_cert_days: u32,
}

impl Default for RawSecurity {
    fn default() -> Self {
        RawSecurity {
            max_failed_logins: 5,
            lockout_minutes: 15,
            session_hours: 12,
            failed_logins_per_minute: 10,
            pepper_file: None,
            transport: "mtls".into(),
            server_names: Vec::new(),
            pairing_minutes: 10,
            device_cert_days: 397,
        }
    }
}

// ------------------------------------------------------------------ the validated shape

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Centre {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    pub qualifications: Vec<String>,
    pub change_procedure_zh: String,
    pub change_procedure_en: String,
    pub utc_offset: FixedOffset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub spec: ServiceSpec,
    pub fees: Vec<FeeItem>,
    /// GB/T 5.3.2: one plain-language line about the service.
    pub description_zh: String,
    pub description_en: String,
    /// GB/T 4.1.2: the promised longest wait to be called; past it a ticket is overdue.
    pub wait_limit_minutes: u32,
}

impl Service {
    /// Identifies exactly this published fee list: a customer who acknowledged it
    /// acknowledged these items at these prices (GB/T 4.2.3).
    pub fn fee_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.spec.kind.code().as_bytes());
        for f in &self.fees {
            h.update(b"\x1e");
            h.update(f.code.as_bytes());
            h.update(b"\x1f");
            h.update(f.name_zh.as_bytes());
            h.update(b"\x1f");
            h.update(f.name_en.as_bytes());
            h.update(b"\x1f");
            h.update(f.unit_price.0.to_le_bytes());
        }
        hex::encode(&h.finalize()[..12])
    }
}

/// When follow-up calls fall due and how appointments are windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    pub follow_up_after_hours: u32,
    pub slot_minutes: u32,
    pub early_minutes: u32,
    pub late_minutes: u32,
    /// Appointments each counter takes per slot.
    pub per_counter: u32,
}

/// Text messages: when "your turn is near" goes, reminders, rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsPolicy {
    /// Send "your turn is near" at this many people ahead (0 = never).
    pub turn_near_ahead: u32,
    pub reminder_minutes: u32,
    pub per_phone_per_hour: u32,
    pub per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub number: u32,
    pub name: String,
    pub services: Vec<ServiceType>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub secret_hash: Option<String>,
    pub skills: Vec<SkillGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub max_failed_logins: u32,
    pub lockout_minutes: u32,
    pub session_hours: u32,
    /// Failed logins allowed from one network address per minute, across all accounts.
    pub failed_logins_per_minute: u32,
    /// GB/T 5.4: how devices reach the hub.
    pub transport: Transport,
    /// Host names and addresses named in the hub's TLS certificate besides the built-in
    /// ones (`localhost`, loopback, the machine's host name, the listen address).
    pub server_names: Vec<String>,
    /// Minutes a device pairing code stays valid (1..=60).
    pub pairing_minutes: u32,
    /// Days a device certificate is valid (1..=825).
    pub device_cert_days: u32,
}

/// How the devices reach the hub (`security.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// GB/T 5.4: HTTPS with a client certificate from the hub's own CA; each device may
    /// call only what its role needs.
    #[default]
    Mtls,
    /// Plain HTTP without any device check: tests and development only.
    Plain,
}

/// Whether `name` can go in a certificate: an IP address or a DNS host name.
fn valid_server_name(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayPolicy {
    pub auto_open_at: Option<NaiveTime>,
    pub auto_close_at: Option<NaiveTime>,
    pub clock_trusted: bool,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub centre: Centre,
    pub day: DayPolicy,
    /// Enabled services only, in the standard's order.
    pub services: BTreeMap<ServiceType, Service>,
    pub counters: BTreeMap<u32, Counter>,
    pub staff: Vec<StaffMember>,
    pub calendar: WorkCalendar,
    pub opening_hours: BTreeMap<String, (NaiveTime, NaiveTime)>,
    pub security: Security,
    /// GB/T 7.3: common questions and the intake's problem pick-lists.
    pub knowledge: protocol::KnowledgeBase,
    pub policies: Policies,
    pub sms: SmsPolicy,
    /// Upstream sync to headquarters; `None` keeps every event in the outbox.
    pub hq: Option<HqLink>,
    /// Scheduled backups (GB/T 5.6.2.2); `None` when switched off.
    pub backup: Option<BackupSchedule>,
    /// GB/T 5.4: days a customer's contact is kept after their last request closed.
    pub retention_days: u32,
    /// Where the pepper of stored secrets lives (`None`: `pepper` in the data directory).
    pub pepper_file: Option<PathBuf>,
}

/// Scheduled hot backups of the hub database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// Relative paths are inside the data directory.
    pub dir: PathBuf,
    pub every_minutes: u32,
    pub keep: u32,
}

/// How the hub reaches headquarters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqLink {
    /// Base URL, e.g. `https://hq.example.com` (no trailing slash).
    pub url: String,
    pub token: HqToken,
    pub ca_file: Option<PathBuf>,
    /// GB/T 5.6.2: the centre's client certificate and key (PEM files), issued by
    /// headquarters (`servicehall hq issue-cert`).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Events per batch (1..=5000).
    pub batch_size: u32,
    /// Base URL of the public status page outside the centre.
    pub public_url: Option<String>,
}

/// The centre's ingest token, given inline or read from a file at start.
#[derive(Clone, PartialEq, Eq)]
pub enum HqToken {
    Inline(String),
    File(PathBuf),
}

impl std::fmt::Debug for HqToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HqToken::Inline(_) => f.write_str("Inline(..)"),
            HqToken::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

impl HqToken {
    /// The token's text (a file's content, trimmed).
    pub fn read(&self) -> std::io::Result<String> {
        match self {
            HqToken::Inline(t) => Ok(t.clone()),
            HqToken::File(p) => Ok(std::fs::read_to_string(p)?.trim().to_owned()),
        }
    }
}

fn default_fees(kind: ServiceType) -> Vec<FeeItem> {
    let item = |code: &str, zh: &str, en: &str, fen: i64| FeeItem {
        code: code.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        unit_price: Fen(fen),
    };
    match kind {
        ServiceType::Installation => vec![
            item(
                "install_standard",
                "标准安装费",
                "Standard installation",
                8000,
            ),
            item("bracket", "安装支架", "Mounting bracket", 4500),
            item(
                "extra_pipe_m",
                "加长管路（每米）",
                "Extra piping (per metre)",
                3000,
            ),
        ],
        ServiceType::Repair => vec![
            item("inspection", "检测费", "Inspection", 3000),
            item(
                "labour_hour",
                "维修工时费（每小时）",
                "Repair labour (per hour)",
                6000,
            ),
            item("part_board", "主板更换", "Main board replacement", 28000),
            item("part_screen", "屏幕更换", "Screen replacement", 45000),
        ],
        _ => Vec::new(),
    }
}

/// GB/T 7.3: the built-in knowledge base plus (or instead of) the centre's own entries,
/// with ids and codes checked for repeats.
fn knowledge_from_raw(
    raw: RawKnowledge,
    services: &BTreeMap<ServiceType, Service>,
    bad: &dyn Fn(String, String) -> ConfigError,
) -> Result<protocol::KnowledgeBase, ConfigError> {
    let mut kb = if raw.replace_builtin {
        protocol::KnowledgeBase {
            faqs: Vec::new(),
            categories: Vec::new(),
        }
    } else {
        crate::knowledge::builtin()
    };
    for (i, f) in raw.faq.into_iter().enumerate() {
        let service = match f.service {
            None => None,
            Some(name) => {
                let t: ServiceType = name
                    .parse()
                    .map_err(|e| bad(format!("knowledge.faq[{i}].service"), format!("{e}")))?;
                if !services.contains_key(&t) {
                    return Err(bad(
                        format!("knowledge.faq[{i}].service"),
                        format!("{} is disabled", t.code()),
                    ));
                }
                Some(t)
            }
        };
        if f.id.trim().is_empty() || kb.faqs.iter().any(|q| q.id == f.id) {
            return Err(bad(
                format!("knowledge.faq[{i}].id"),
                format!("`{}` is empty or repeated", f.id),
            ));
        }
        kb.faqs.push(protocol::Faq {
            id: f.id,
            service,
            question_zh: f.question_zh,
            question_en: f.question_en,
            answer_zh: f.answer_zh,
            answer_en: f.answer_en,
        });
    }
    for (i, c) in raw.category.into_iter().enumerate() {
        if c.code.trim().is_empty() || kb.categories.iter().any(|k| k.code == c.code) {
            return Err(bad(
                format!("knowledge.category[{i}].code"),
                format!("`{}` is empty or repeated", c.code),
            ));
        }
        let mut problems: Vec<protocol::CommonProblem> = Vec::new();
        for (j, p) in c.problems.into_iter().enumerate() {
            if p.code.trim().is_empty() || problems.iter().any(|q| q.code == p.code) {
                return Err(bad(
                    format!("knowledge.category[{i}].problems[{j}].code"),
                    format!("`{}` is empty or repeated", p.code),
                ));
            }
            problems.push(protocol::CommonProblem {
                code: p.code,
                text_zh: p.text_zh,
                text_en: p.text_en,
            });
        }
        kb.categories.push(protocol::ProductCategory {
            code: c.code,
            name_zh: c.name_zh,
            name_en: c.name_en,
            problems,
        });
    }
    kb.faqs
        .retain(|f| f.service.is_none_or(|s| services.contains_key(&s)));
    Ok(kb)
}

const WEEKDAY_KEYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Config {
    /// The built-in defaults: five services, four counters serving everything, no staff.
    pub fn builtin() -> Result<Config, ConfigError> {
        Config::from_toml_str("", "<built-in defaults>")
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, path: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let bad = |key: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };

        let c = raw.centre;
        if c.id.trim().is_empty()
            || !c
                .id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(bad(
                "centre.id".into(),
                "must be letters, digits, '-' or '_'".into(),
            ));
        }
        let utc_offset = FixedOffset::east_opt(c.utc_offset_minutes.saturating_mul(60))
            .ok_or_else(|| {
                bad(
                    "centre.utc_offset_minutes".into(),
                    "must be between -1439 and 1439".into(),
                )
            })?;
        let centre = Centre {
            id: c.id,
            name_zh: c.name_zh,
            name_en: c.name_en,
            address: c.address,
            phone: c.phone,
            qualifications: c.qualifications,
            change_procedure_zh: c.change_procedure_zh,
            change_procedure_en: c.change_procedure_en,
            utc_offset,
        };

        let time = |key: &str, v: &Option<String>| -> Result<Option<NaiveTime>, ConfigError> {
            v.as_deref()
                .map(|s| {
                    NaiveTime::parse_from_str(s, "%H:%M")
                        .map_err(|_| bad(key.into(), format!("`{s}` is not a time like 08:30")))
                })
                .transpose()
        };
        let day = DayPolicy {
            auto_open_at: time("day.auto_open_at", &raw.day.auto_open_at)?,
            auto_close_at: time("day.auto_close_at", &raw.day.auto_close_at)?,
            clock_trusted: raw.day.clock_trusted,
        };

        // GB/T 4.2.1: the five built-in services, overridden per kind.
        let mut services: BTreeMap<ServiceType, Service> = ServiceType::ALL
            .into_iter()
            .map(|k| {
                (
                    k,
                    Service {
                        spec: ServiceSpec::default_for(k),
                        fees: default_fees(k),
                        description_zh: crate::knowledge::default_description(k, true).into(),
                        description_en: crate::knowledge::default_description(k, false).into(),
                        wait_limit_minutes: 30,
                    },
                )
            })
            .collect();
        let mut seen = BTreeSet::new();
        for (i, s) in raw.services.into_iter().enumerate() {
            let key = |f: &str| format!("services[{i}].{f}");
            let kind: ServiceType = s
                .kind
                .parse()
                .map_err(|e| bad(key("kind"), format!("{e}")))?;
            if !seen.insert(kind) {
                return Err(bad(
                    key("kind"),
                    format!("`{}` is configured twice", kind.code()),
                ));
            }
            if !s.enabled {
                services.remove(&kind);
                continue;
            }
            let Some(entry) = services.get_mut(&kind) else {
                continue;
            };
            let spec = &mut entry.spec;
            if let Some(v) = s.name_zh {
                spec.name_zh = v;
            }
            if let Some(v) = s.name_en {
                spec.name_en = v;
            }
            if let Some(p) = s.prefix {
                let mut chars = p.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) if ch.is_ascii_uppercase() => spec.prefix = ch,
                    _ => return Err(bad(key("prefix"), format!("`{p}` must be one letter A-Z"))),
                }
            }
            if let Some(v) = s.paid {
                spec.paid = v;
            }
            if let Some(v) = s.reply_within_minutes {
                spec.reply_within_minutes = v;
            }
            if let Some(v) = s.resolve_within_hours {
                if v == 0 {
                    return Err(bad(
                        key("resolve_within_hours"),
                        "must be at least 1".into(),
                    ));
                }
                spec.resolve_within_hours = v;
            }
            if let Some(v) = s.required_skills {
                spec.required_skills = v.into_iter().map(Skill::new).collect();
            }
            if let Some(v) = s.priority_every {
                spec.priority_every = v;
            }
            if let Some(v) = s.wait_limit_minutes {
                if v == 0 {
                    return Err(bad(key("wait_limit_minutes"), "must be at least 1".into()));
                }
                entry.wait_limit_minutes = v;
            }
            if let Some(v) = s.description_zh {
                entry.description_zh = v;
            }
            if let Some(v) = s.description_en {
                entry.description_en = v;
            }
            let spec = &mut entry.spec;
            if let Some(v) = s.default_service_minutes {
                if v == 0 {
                    return Err(bad(
                        key("default_service_minutes"),
                        "must be at least 1".into(),
                    ));
                }
                spec.default_service_minutes = v;
            }
            if !s.fees.is_empty() {
                let mut codes = BTreeSet::new();
                entry.fees = Vec::with_capacity(s.fees.len());
                for (j, f) in s.fees.into_iter().enumerate() {
                    let fkey = |n: &str| format!("services[{i}].fees[{j}].{n}");
                    if f.unit_price_fen < 0 {
                        return Err(bad(fkey("unit_price_fen"), "must not be negative".into()));
                    }
                    if f.code.trim().is_empty() || !codes.insert(f.code.clone()) {
                        return Err(bad(
                            fkey("code"),
                            format!("`{}` is empty or repeated", f.code),
                        ));
                    }
                    entry.fees.push(FeeItem {
                        code: f.code,
                        name_zh: f.name_zh,
                        name_en: f.name_en,
                        unit_price: Fen(f.unit_price_fen),
                    });
                }
            }
        }
        if services.is_empty() {
            return Err(bad(
                "services".into(),
                "at least one service must stay enabled".into(),
            ));
        }
        let mut prefixes = BTreeMap::new();
        for s in services.values() {
            if let Some(other) = prefixes.insert(s.spec.prefix, s.spec.kind) {
                return Err(bad(
                    "services".into(),
                    format!(
                        "prefix `{}` is used by both {} and {}",
                        s.spec.prefix,
                        other.code(),
                        s.spec.kind.code()
                    ),
                ));
            }
            if s.spec.paid && s.fees.is_empty() {
                return Err(bad(
                    "services".into(),
                    format!(
                        "{} is paid but has no fees: GB/T 4.2.3 needs an itemised list",
                        s.spec.kind.code()
                    ),
                ));
            }
        }

        let mut counters = BTreeMap::new();
        if raw.counters.is_empty() {
            for n in 1..=4 {
                counters.insert(
                    n,
                    Counter {
                        number: n,
                        name: format!("{n}号窗口"),
                        services: services.keys().copied().collect(),
                    },
                );
            }
        }
        for (i, c) in raw.counters.into_iter().enumerate() {
            let key = |f: &str| format!("counters[{i}].{f}");
            if c.number == 0 {
                return Err(bad(key("number"), "counters are numbered from 1".into()));
            }
            let list = match c.services {
                None => services.keys().copied().collect(),
                Some(names) => {
                    let mut v = Vec::new();
                    for (j, n) in names.iter().enumerate() {
                        let t: ServiceType = n.parse().map_err(|e| {
                            bad(format!("counters[{i}].services[{j}]"), format!("{e}"))
                        })?;
                        if !services.contains_key(&t) {
                            return Err(bad(
                                format!("counters[{i}].services[{j}]"),
                                format!("{} is disabled", t.code()),
                            ));
                        }
                        v.push(t);
                    }
                    // The standard's order, each once.
                    v.sort();
                    v.dedup();
                    v
                }
            };
            let counter = Counter {
                number: c.number,
                name: c.name.unwrap_or_else(|| format!("{}号窗口", c.number)),
                services: list,
            };
            if counters.insert(c.number, counter).is_some() {
                return Err(bad(
                    key("number"),
                    format!("counter {} is configured twice", c.number),
                ));
            }
        }

        let mut staff = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, s) in raw.staff.into_iter().enumerate() {
            let key = |f: &str| format!("staff[{i}].{f}");
            if s.id.trim().is_empty() || !ids.insert(s.id.clone()) {
                return Err(bad(key("id"), format!("`{}` is empty or repeated", s.id)));
            }
            let role = Role::from_code(&s.role).ok_or_else(|| {
                bad(
                    key("role"),
                    format!("`{}` is not one of staff, supervisor, admin", s.role),
                )
            })?;
            if let Some(h) = &s.secret_hash
                && !h.starts_with("$argon2id$")
            {
                return Err(bad(
                    key("secret_hash"),
                    "must be an argon2id hash made by `servicehall hash-secret`".into(),
                ));
            }
            staff.push(StaffMember {
                id: s.id,
                name: s.name,
                role,
                secret_hash: s.secret_hash,
                skills: s
                    .skills
                    .into_iter()
                    .map(|k| SkillGrant {
                        skill: Skill::new(k.skill),
                        valid_until: k.valid_until,
                    })
                    .collect(),
            });
        }

        let mut opening_hours = BTreeMap::new();
        for (day, span) in raw.opening_hours {
            let key = format!("opening_hours.{day}");
            if !WEEKDAY_KEYS.contains(&day.as_str()) {
                return Err(bad(key, "must be a weekday name like monday".into()));
            }
            let parsed = span.split_once('-').and_then(|(a, b)| {
                Some((
                    NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?,
                    NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?,
                ))
            });
            match parsed {
                Some((open, close)) if open < close => {
                    opening_hours.insert(day, (open, close));
                }
                _ => return Err(bad(key, format!("`{span}` is not a span like 09:00-18:00"))),
            }
        }
        if opening_hours.is_empty() {
            for d in &WEEKDAY_KEYS[..6] {
                opening_hours.insert(
                    (*d).to_owned(),
                    (
                        NaiveTime::MIN + chrono::Duration::hours(9),
                        NaiveTime::MIN + chrono::Duration::hours(18),
                    ),
                );
            }
        }

        let sec = raw.security;
        if sec.max_failed_logins == 0 {
            return Err(bad(
                "security.max_failed_logins".into(),
                "must be at least 1".into(),
            ));
        }
        if sec.session_hours == 0 {
            return Err(bad(
                "security.session_hours".into(),
                "must be at least 1".into(),
            ));
        }
        let transport = match sec.transport.as_str() {
            "mtls" => Transport::Mtls,
            "plain" => Transport::Plain,
            other => {
                return Err(bad(
                    "security.transport".into(),
                    format!("`{other}` must be \"mtls\" or \"plain\""),
                ));
            }
        };
        if let Some(n) = sec.server_names.iter().find(|n| !valid_server_name(n)) {
            return Err(bad(
                "security.server_names".into(),
                format!("`{n}` is not a host name or an IP address"),
            ));
        }
        if !(1..=60).contains(&sec.pairing_minutes) {
            return Err(bad(
                "security.pairing_minutes".into(),
                "must be 1 to 60".into(),
            ));
        }
        if !(1..=825).contains(&sec.device_cert_days) {
            return Err(bad(
                "security.device_cert_days".into(),
                "must be 1 to 825".into(),
            ));
        }

        let knowledge = knowledge_from_raw(raw.knowledge, &services, &bad)?;
        let a = raw.appointments;
        for (k, v) in [
            ("appointments.slot_minutes", a.slot_minutes),
            ("appointments.per_counter", a.per_counter),
            ("sms.per_phone_per_hour", raw.sms.per_phone_per_hour),
            ("sms.per_minute", raw.sms.per_minute),
        ] {
            if v == 0 {
                return Err(bad(k.into(), "must be at least 1".into()));
            }
        }
        let policies = Policies {
            follow_up_after_hours: raw.follow_up.after_hours,
            slot_minutes: a.slot_minutes,
            early_minutes: a.early_minutes,
            late_minutes: a.late_minutes,
            per_counter: a.per_counter,
        };
        let sms = SmsPolicy {
            turn_near_ahead: raw.sms.turn_near_ahead,
            reminder_minutes: raw.sms.reminder_minutes,
            per_phone_per_hour: raw.sms.per_phone_per_hour,
            per_minute: raw.sms.per_minute,
        };

        let hq = match raw.hq {
            None => None,
            Some(h) => {
                let url = h.url.trim_end_matches('/').to_owned();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(bad(
                        "hq.url".into(),
                        "must start with https:// (or http:// behind a TLS proxy)".into(),
                    ));
                }
                if !(1..=5000).contains(&h.batch_size) {
                    return Err(bad("hq.batch_size".into(), "must be 1 to 5000".into()));
                }
                let token = match (h.token, h.token_file) {
                    (Some(t), None) if !t.trim().is_empty() => HqToken::Inline(t.trim().to_owned()),
                    (None, Some(f)) => HqToken::File(f),
                    _ => {
                        return Err(bad(
                            "hq.token".into(),
                            "give exactly one of `token` and `token_file`".into(),
                        ));
                    }
                };
                let client_identity = match (h.client_cert, h.client_key) {
                    (Some(c), Some(k)) => Some((c, k)),
                    (None, None) => None,
                    _ => {
                        return Err(bad(
                            "hq.client_cert".into(),
                            "give both `client_cert` and `client_key`, or neither".into(),
                        ));
                    }
                };
                Some(HqLink {
                    url,
                    token,
                    ca_file: h.ca_file,
                    client_identity,
                    batch_size: h.batch_size,
                    public_url: h.public_url.map(|u| u.trim_end_matches('/').to_owned()),
                })
            }
        };

        let b = raw.backup;
        let backup = if b.enabled {
            if b.every_minutes == 0 || b.keep == 0 {
                return Err(bad(
                    "backup".into(),
                    "every_minutes and keep must be at least 1 (or set enabled = false)".into(),
                ));
            }
            Some(BackupSchedule {
                dir: b.dir,
                every_minutes: b.every_minutes,
                keep: b.keep,
            })
        } else {
            None
        };

        Ok(Config {
            retention_days: raw.privacy.retention_days,
            backup,
            hq,
            centre,
            day,
            services,
            counters,
            staff,
            calendar: WorkCalendar {
                holidays: raw.calendar.holidays.into_iter().collect(),
                makeup_workdays: raw.calendar.makeup_workdays.into_iter().collect(),
            },
            opening_hours,
            security: Security {
                max_failed_logins: sec.max_failed_logins,
                lockout_minutes: sec.lockout_minutes,
                session_hours: sec.session_hours,
                failed_logins_per_minute: sec.failed_logins_per_minute.max(1),
                transport,
                server_names: sec.server_names,
                pairing_minutes: sec.pairing_minutes,
                device_cert_days: sec.device_cert_days,
            },
            pepper_file: sec.pepper_file,
            knowledge,
            policies,
            sms,
        })
    }

    pub fn service(&self, kind: ServiceType) -> Option<&Service> {
        self.services.get(&kind)
    }

    /// The service, or the error a caller can pass on when the centre does not offer it.
    pub fn require_service(&self, kind: ServiceType) -> Result<&Service, crate::store::StoreError> {
        self.service(kind).ok_or_else(|| {
            crate::store::StoreError::invalid(
                "service",
                format!("{} is not offered at this centre", kind.code()),
            )
        })
    }

    /// The opening hours on local date `day`, or `None` when the centre is closed
    /// (no hours on that weekday, or a public holiday on the calendar).
    pub fn opening_on(&self, day: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        use chrono::Datelike;
        if self.calendar.holidays.contains(&day) {
            return None;
        }
        let key = WEEKDAY_KEYS[day.weekday().num_days_from_monday() as usize];
        self.opening_hours.get(key).copied()
    }

    /// `at` in the centre's local time, formatted with `fmt` (chrono's strftime syntax).
    pub fn local_format(&self, at: chrono::DateTime<chrono::Utc>, fmt: &str) -> String {
        at.with_timezone(&self.centre.utc_offset)
            .format(fmt)
            .to_string()
    }

    /// The centre's local date of `at` (business dates are local).
    pub fn local_date(&self, at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
        at.with_timezone(&self.centre.utc_offset).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_configuration_has_five_services_and_four_counters() {
        // GB/T 4.2.1
        let c = Config::builtin().unwrap();
        assert_eq!(c.services.len(), 5);
        assert_eq!(c.counters.len(), 4);
        assert!(c.service(ServiceType::Repair).unwrap().spec.paid);
    }

    #[test]
    fn device_security_keys_default_and_are_checked() {
        // GB/T 5.4: mutual TLS unless the file says otherwise.
        let c = Config::builtin().unwrap();
        assert_eq!(c.security.transport, Transport::Mtls);
        assert_eq!(c.security.pairing_minutes, 10);
        assert_eq!(c.security.device_cert_days, 397);
        let c = Config::from_toml_str(
            "[security]\ntransport = \"plain\"\nserver_names = [\"hub.centre.lan\", \"10.0.0.2\"]\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(c.security.transport, Transport::Plain);
        assert_eq!(c.security.server_names.len(), 2);
        for (text, key) in [
            ("transport = \"tls\"", "security.transport"),
            ("server_names = [\"bad name\"]", "security.server_names"),
            ("pairing_minutes = 0", "security.pairing_minutes"),
            ("pairing_minutes = 61", "security.pairing_minutes"),
            ("device_cert_days = 826", "security.device_cert_days"),
        ] {
            let e = Config::from_toml_str(&format!("[security]\n{text}\n"), "c.toml").unwrap_err();
            assert!(e.to_string().contains(&format!("`{key}`")), "{text}: {e}");
        }
    }

    #[test]
    fn errors_name_the_bad_key() {
        let e = Config::from_toml_str(
            "[[services]]\nkind = \"repair\"\nprefix = \"dd\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.toml: `services[0].prefix`: `dd` must be one letter A-Z"
        );
        let e = Config::from_toml_str("[centre]\nnmae_zh = \"x\"\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("nmae_zh"), "{e}");
        let e = Config::from_toml_str(
            "[[counters]]\nnumber = 2\nservices = [\"massage\"]\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("counters[0].services[0]"), "{e}");
        let e = Config::from_toml_str("[opening_hours]\nmonday = \"18:00-09:00\"\n", "c.toml")
            .unwrap_err();
        assert!(e.to_string().contains("opening_hours.monday"), "{e}");
    }

    #[test]
    fn paid_service_without_fees_is_refused() {
        // GB/T 4.2.3
        let e = Config::from_toml_str(
            "[[services]]\nkind = \"consultation\"\npaid = true\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("itemised"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let c = Config::from_toml_str(
            include_str!("../../config/servicehall.example.toml"),
            "example",
        )
        .unwrap();
        assert_eq!(c.centre.id, "sh-pudong-001");
        assert_eq!(c.backup.as_ref().map(|b| b.keep), Some(24));
        assert!(c.hq.is_none());
        assert_eq!(
            c.counters[&2].services,
            vec![ServiceType::Installation, ServiceType::Repair]
        );
        assert_eq!(c.service(ServiceType::Repair).unwrap().fees.len(), 2);
        assert_eq!(c.day.auto_open_at, NaiveTime::from_hms_opt(8, 30, 0));
        let repair = c.service(ServiceType::Repair).unwrap();
        assert_eq!(repair.wait_limit_minutes, 30);
        assert!(repair.description_en.starts_with("Appliance"));
        assert!(c.knowledge.faqs.iter().any(|f| f.id == "parking"));
        assert!(c.knowledge.faqs.iter().any(|f| f.id == "warranty_period"));
        assert!(
            c.knowledge
                .categories
                .iter()
                .any(|k| k.code == "water_heater")
        );
        assert_eq!((c.policies.slot_minutes, c.sms.turn_near_ahead), (30, 3));
    }

    #[test]
    fn duplicate_prefixes_are_refused() {
        let e = Config::from_toml_str(
            "[[services]]\nkind = \"repair\"\nprefix = \"A\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("prefix `A`"), "{e}");
    }

    #[test]
    fn the_headquarters_link_is_checked() {
        let ok = Config::from_toml_str(
            "[hq]\nurl = \"https://hq.example.com/\"\ntoken_file = \"/etc/t\"\n",
            "c.toml",
        )
        .unwrap();
        let hq = ok.hq.unwrap();
        assert_eq!(hq.url, "https://hq.example.com");
        assert_eq!(hq.batch_size, 500);
        assert!(
            format!(
                "{:?}",
                Config::from_toml_str("[hq]\nurl = \"https://h\"\ntoken = \"s3cret\"\n", "c")
                    .unwrap()
                    .hq
            )
            .contains("Inline(..)")
        );
        for (bad, key) in [
            ("[hq]\nurl = \"ftp://h\"\ntoken = \"t\"\n", "hq.url"),
            ("[hq]\nurl = \"https://h\"\n", "hq.token"),
            (
                "[hq]\nurl = \"https://h\"\ntoken = \"t\"\ntoken_file = \"f\"\n",
                "hq.token",
            ),
            (
                "[hq]\nurl = \"https://h\"\ntoken = \"t\"\nbatch_size = 0\n",
                "hq.batch_size",
            ),
            ("[backup]\nkeep = 0\n", "backup"),
        ] {
            let e = Config::from_toml_str(bad, "c.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
        let off = Config::from_toml_str("[backup]\nenabled = false\n", "c.toml").unwrap();
        assert!(off.backup.is_none());
    }
}
