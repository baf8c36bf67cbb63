//! The Devices page's words (GB/T 5.4 device enrolment): who may see the page and its
//! buttons, the pairing code just made with the exact command a technician types on the
//! new device, and the CA fingerprint laid out to be read aloud and compared.
//!
//! Pure: it never talks to the hub (the desk does) and never touches Slint (the adapter
//! does).

use protocol::devices::{DeviceRole, Pairing};

/// What the logged-in person may do on the Devices page. The hub decides in the end: a
/// hidden button only spares staff a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Staff: no Devices page.
    #[default]
    None,
    /// A supervisor: the list only.
    List,
    /// An administrator: the list, new pairing codes and revocation.
    Manage,
}

impl Access {
    pub fn for_role(role: domain::Role) -> Access {
        if role.at_least(domain::Role::Admin) {
            Access::Manage
        } else if role.at_least(domain::Role::Supervisor) {
            Access::List
        } else {
            Access::None
        }
    }
}

/// A pairing code as the page shows it, with the command for the new device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingShown {
    pub pairing: Pairing,
    /// `servicehall enrol --hub … --role … --id … --code … --fingerprint …`
    pub command: String,
}

impl PairingShown {
    pub fn new(pairing: Pairing, hub_url: &str) -> PairingShown {
        let command = enrol_command(hub_url, &pairing);
        PairingShown { pairing, command }
    }
}

/// The command a technician types on the new device, as `servicehall devices pair`
/// prints it on the hub's box.
pub fn enrol_command(hub_url: &str, p: &Pairing) -> String {
    format!(
        "servicehall enrol --hub {} --role {} --id {} --code {} --fingerprint {}",
        hub_url.trim_end_matches('/'),
        p.role,
        p.device_id,
        p.code,
        p.ca_fingerprint
    )
}

/// The fingerprint's groups (`AB12`, `CD34`, …), 16 of them for a SHA-256, in two rows of
/// eight: what staff read aloud to the technician.
pub fn fingerprint_rows(fingerprint: &str) -> (Vec<String>, Vec<String>) {
    let groups: Vec<String> = fingerprint
        .split(':')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    let half = groups.len().div_ceil(2);
    let (a, b) = groups.split_at(half);
    (a.to_vec(), b.to_vec())
}

/// A device role in both languages: (Chinese, English).
pub fn role_names(role: DeviceRole) -> (&'static str, &'static str) {
    match role {
        DeviceRole::Kiosk => ("自助终端", "Kiosk"),
        DeviceRole::Counter => ("柜台", "Counter"),
        DeviceRole::Board => ("显示屏", "Board"),
        DeviceRole::SmsGateway => ("短信网关", "SMS gateway"),
    }
}

/// Why a device id typed at the counter is refused before the hub is asked, in both
/// languages: (Chinese, English).
pub fn bad_id_text(id: &str) -> (String, String) {
    if id.trim().is_empty() {
        return (
            "请填写设备编号：1 至 40 个字母、数字、“-”或“_”。".to_owned(),
            "Enter the device id: 1 to 40 letters, digits, '-' or '_'.".to_owned(),
        );
    }
    (
        format!("“{id}”不能作设备编号：只能用 1 至 40 个字母、数字、“-”或“_”，不能有空格或汉字。"),
        format!("`{id}` is not a device id: use 1 to 40 letters, digits, '-' or '_' (no spaces)."),
    )
}

/// The confirmation asked before `id` is revoked, in both languages: (Chinese, English).
pub fn revoke_question(id: &str, role: Option<DeviceRole>) -> (String, String) {
    let (zh, en) = match role.map(role_names) {
        Some((zh, en)) => (format!("（{zh}）"), format!(" ({en})")),
        None => (String::new(), String::new()),
    };
    (
        format!(
            "吊销后，{id}{zh}的证书立即作废，服务器将拒绝它的下一次请求。要恢复，须重新生成配对码登记。"
        ),
        format!(
            "{id}{en} loses its certificate: the hub refuses its next request. To bring it back, pair it again with a new code."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn pairing() -> Pairing {
        Pairing {
            code: "1234-5678".into(),
            role: DeviceRole::SmsGateway,
            device_id: "sms-1".into(),
            expires_at: Utc::now(),
            ca_fingerprint: (0..16)
                .map(|i| format!("{i:04X}"))
                .collect::<Vec<_>>()
                .join(":"),
        }
    }

    #[test]
    fn the_command_is_what_the_enrol_subcommand_reads() {
        let c = enrol_command("https://hub.local:8470/", &pairing());
        assert_eq!(
            c,
            "servicehall enrol --hub https://hub.local:8470 --role sms-gateway --id sms-1 \
             --code 1234-5678 --fingerprint 0000:0001:0002:0003:0004:0005:0006:0007:0008:0009:000A:000B:000C:000D:000E:000F"
        );
    }

    #[test]
    fn the_fingerprint_reads_in_two_rows_of_eight() {
        let (a, b) = fingerprint_rows(&pairing().ca_fingerprint);
        assert_eq!(a.len(), 8);
        assert_eq!(b.len(), 8);
        assert_eq!(a[0], "0000");
        assert_eq!(b[7], "000F");
    }

    #[test]
    fn only_supervisors_and_administrators_see_the_page() {
        assert_eq!(Access::for_role(domain::Role::Staff), Access::None);
        assert_eq!(Access::for_role(domain::Role::Supervisor), Access::List);
        assert_eq!(Access::for_role(domain::Role::Admin), Access::Manage);
    }
}
