//! Staff roles and skills with certificate expiry (GB/T 5.2.2–5.2.4): who may serve what.
//!
//! Holds no credentials: PIN and password hashing live in the hub.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Supervisor,
    Admin,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn from_code(s: &str) -> Option<Role> {
        [Role::Staff, Role::Supervisor, Role::Admin]
            .into_iter()
            .find(|r| r.code() == s)
    }

    /// Whether this role may do what `needed` may do (admin ⊇ supervisor ⊇ staff).
    pub fn at_least(self, needed: Role) -> bool {
        self >= needed
    }
}

/// A named qualification, e.g. `repair` or `installation`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Skill(String);

impl Skill {
    pub fn new(name: impl Into<String>) -> Skill {
        Skill(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A skill a staff member holds, with the expiry of its certificate if it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillGrant {
    pub skill: Skill,
    /// Last day the certificate is valid; `None` for skills that need no certificate.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

impl SkillGrant {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_until.is_none_or(|until| day <= until)
    }
}

/// GB/T 5.2.3: a staff member is routed a service only when every required skill is held
/// with a certificate valid on `day`.
pub fn qualified(grants: &[SkillGrant], required: &[Skill], day: NaiveDate) -> bool {
    required
        .iter()
        .all(|need| grants.iter().any(|g| &g.skill == need && g.valid_on(day)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn expired_certificate_disqualifies() {
        // GB/T 5.2.3
        let grants = vec![SkillGrant {
            skill: Skill::new("repair"),
            valid_until: Some(d("2026-06-30")),
        }];
        let need = [Skill::new("repair")];
        assert!(qualified(&grants, &need, d("2026-06-30")));
        assert!(!qualified(&grants, &need, d("2026-07-01")));
        assert!(qualified(&grants, &[], d("2030-01-01")));
        assert!(!qualified(&[], &need, d("2026-01-01")));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.at_least(Role::Supervisor));
        assert!(!Role::Staff.at_least(Role::Supervisor));
        assert_eq!(Role::from_code("supervisor"), Some(Role::Supervisor));
    }
}
