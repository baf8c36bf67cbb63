//! Fuzzes the hub's reading of a device's certificate signing request (the one piece of
//! enrolment that parses DER a stranger sends, GB/T 5.4): arbitrary text, arbitrary DER in
//! a PEM envelope, and a valid request with bytes overwritten at chosen places. The CA
//! must answer every one with a certificate or an error, never a panic.

#![no_main]

use std::sync::OnceLock;

use hub::pki::HubCa;
use libfuzzer_sys::fuzz_target;
use protocol::DeviceRole;

struct Fixture {
    ca: HubCa,
    valid_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = HubCa::load_or_create(dir.path(), "fuzz").expect("the CA");
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(vec!["kiosk-1".into()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kiosk-1");
        let csr = params.serialize_request(&key).expect("a request");
        Fixture {
            ca,
            valid_der: csr.der().to_vec(),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    let f = fixture();
    let pem_of = |der: &[u8]| pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der.to_vec()));
    let text = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => pem_of(rest),
        _ => {
            // Pairs of (position, byte) overwrite a valid request; a trailing odd byte
            // cuts it short there.
            let mut der = f.valid_der.clone();
            let mut pairs = rest.chunks_exact(2);
            for pair in pairs.by_ref() {
                let at = usize::from(pair[0]) * der.len() / 256;
                der[at] = pair[1];
            }
            if let [cut] = pairs.remainder() {
                der.truncate(usize::from(*cut) * der.len() / 255);
            }
            pem_of(&der)
        }
    };
    let _ = f.ca.sign_device(&text, "kiosk-1", DeviceRole::Kiosk, 30);
});
