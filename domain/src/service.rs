//! The five built-in service types (GB/T 4.2.1), the channels a request arrives by
//! (GB/T 4.2.2) and the per-service settings: names, ticket prefix, free or paid
//! (4.2.3), promised time limits (4.1.2, 5.5.2), required skills (5.2.3) and the
//! priority ratio of its queue.
//!
//! Never holds configuration parsing or storage: it is the validated shape only.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::staff::Skill;

/// GB/T 4.2.1: the service types every centre offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// 咨询
    Consultation,
    /// 投诉
    Complaint,
    /// 安装
    Installation,
    /// 维修
    Repair,
    /// 退换货
    ReturnExchange,
}

impl ServiceType {
    pub const ALL: [ServiceType; 5] = [
        ServiceType::Consultation,
        ServiceType::Complaint,
        ServiceType::Installation,
        ServiceType::Repair,
        ServiceType::ReturnExchange,
    ];

    /// The stable machine name used in configuration, URLs and the database.
    pub fn code(self) -> &'static str {
        match self {
            ServiceType::Consultation => "consultation",
            ServiceType::Complaint => "complaint",
            ServiceType::Installation => "installation",
            ServiceType::Repair => "repair",
            ServiceType::ReturnExchange => "return_exchange",
        }
    }

    /// The standard's own Chinese word for the service.
    pub fn name_zh(self) -> &'static str {
        match self {
            ServiceType::Consultation => "咨询",
            ServiceType::Complaint => "投诉",
            ServiceType::Installation => "安装",
            ServiceType::Repair => "维修",
            ServiceType::ReturnExchange => "退换货",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            ServiceType::Consultation => "Consultation",
            ServiceType::Complaint => "Complaint",
            ServiceType::Installation => "Installation",
            ServiceType::Repair => "Repair",
            ServiceType::ReturnExchange => "Return / exchange",
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown service type `{0}` (expected one of consultation, complaint, installation, repair, return_exchange)"
)]
pub struct UnknownServiceType(pub String);

impl FromStr for ServiceType {
    type Err = UnknownServiceType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceType::ALL
            .into_iter()
            .find(|t| t.code() == s)
            .ok_or_else(|| UnknownServiceType(s.to_owned()))
    }
}

/// GB/T 4.2.2: how a request reached the centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 现场: walked in.
    #[default]
    OnSite,
    Phone,
    Letter,
    Fax,
    Web,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::OnSite,
        Channel::Phone,
        Channel::Letter,
        Channel::Fax,
        Channel::Web,
        Channel::Sms,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Channel::OnSite => "on_site",
            Channel::Phone => "phone",
            Channel::Letter => "letter",
            Channel::Fax => "fax",
            Channel::Web => "web",
            Channel::Sms => "sms",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| format!("unknown channel `{s}`"))
    }
}

/// Everything the centre has configured about one service type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub kind: ServiceType,
    pub name_zh: String,
    pub name_en: String,
    /// One upper-case ASCII letter that starts every ticket number of this service.
    pub prefix: char,
    /// GB/T 4.2.3: paid services need an acknowledged itemised quote before work starts.
    pub paid: bool,
    /// GB/T 5.5.2: the customer gets an answer within this time of acceptance.
    pub reply_within_minutes: u32,
    /// GB/T 4.1.2: the promised time limit from acceptance to resolution.
    pub resolve_within_hours: u32,
    /// GB/T 5.2.3: a staff member must hold all of these (valid on the day) to serve it.
    pub required_skills: Vec<Skill>,
    /// After this many normal tickets one priority ticket is served (0 = priority always first).
    pub priority_every: u32,
    /// The service time assumed for wait estimates until real service times are measured.
    pub default_service_minutes: u32,
}

impl ServiceSpec {
    /// Built-in defaults for one service type; a centre overrides them in its configuration.
    pub fn default_for(kind: ServiceType) -> ServiceSpec {
        let (prefix, paid, reply_min, resolve_h, skill, minutes) = match kind {
            ServiceType::Consultation => ('A', false, 0, 24, None, 5),
            ServiceType::Complaint => ('B', false, 60, 72, Some("complaint_handling"), 15),
            ServiceType::Installation => ('C', true, 60, 72, Some("installation"), 20),
            ServiceType::Repair => ('D', true, 60, 168, Some("repair"), 25),
            ServiceType::ReturnExchange => ('E', false, 30, 120, None, 10),
        };
        ServiceSpec {
            kind,
            name_zh: kind.name_zh().to_owned(),
            name_en: kind.name_en().to_owned(),
            prefix,
            paid,
            reply_within_minutes: reply_min,
            resolve_within_hours: resolve_h,
            required_skills: skill.map(|s| vec![Skill::new(s)]).unwrap_or_default(),
            priority_every: 2,
            default_service_minutes: minutes,
        }
    }

    pub fn reply_within(&self) -> Duration {
        Duration::minutes(i64::from(self.reply_within_minutes))
    }

    pub fn resolve_within(&self) -> Duration {
        Duration::hours(i64::from(self.resolve_within_hours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_service_types_round_trip_through_their_codes() {
        // GB/T 4.2.1
        for t in ServiceType::ALL {
            assert_eq!(t.code().parse::<ServiceType>(), Ok(t));
            assert!(!t.name_zh().is_empty());
        }
        assert!("refund".parse::<ServiceType>().is_err());
    }

    #[test]
    fn six_channels_round_trip() {
        // GB/T 4.2.2
        for c in Channel::ALL {
            assert_eq!(c.code().parse::<Channel>(), Ok(c));
        }
    }

    #[test]
    fn default_prefixes_are_distinct() {
        let mut p: Vec<char> = ServiceType::ALL
            .iter()
            .map(|t| ServiceSpec::default_for(*t).prefix)
            .collect();
        p.dedup();
        assert_eq!(p.len(), 5);
    }
}
