//! Staff authentication (GB/T 5.6.2): a brute-force run against a PIN meets the account
//! lockout, guessing across accounts from one address meets the rate limit, an
//! administrator cannot sign in with a PIN, and the database keeps only peppered hashes.

mod common;

use common::*;
use protocol::Login;

fn attempt(staff_id: &str, secret: &str) -> Login {
    Login {
        staff_id: staff_id.into(),
        secret: secret.into(),
        counter: Some(1),
        device: Some("counter-1".into()),
    }
}

fn audit_actions(db: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut s = c.prepare("SELECT action FROM audit ORDER BY id").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn brute_forcing_a_pin_meets_the_lockout() {
    let hub = TestHub::start(config("[security]\nmax_failed_logins = 5\n")).await;
    let mut tried = 0;
    let mut locked_at = None;
    // Every PIN from 0000 up; the right one (1234) is never reached.
    for pin in 0..=9999 {
        let r = hub
            .client
            .login(&attempt("sup", &format!("{pin:04}")))
            .await;
        tried += 1;
        match code(r).as_str() {
            "bad_credentials" => {}
            "locked_out" => {
                locked_at = Some(tried);
                break;
            }
            other => panic!("unexpected refusal {other}"),
        }
    }
    assert_eq!(locked_at, Some(5), "the fifth failure locks the account");
    // Locked: even the right PIN is refused now.
    assert_eq!(
        code(hub.client.login(&attempt("sup", "1234")).await),
        "locked_out"
    );
    let actions = audit_actions(&hub.dir.join(hub::DB_FILE));
    assert_eq!(actions.iter().filter(|a| *a == "login_failed").count(), 4);
    assert!(actions.iter().any(|a| a == "login_locked"));
    hub.stop().await;
}

#[tokio::test]
async fn guessing_across_accounts_from_one_address_is_rate_limited() {
    let hub = TestHub::start(config("[security]\nfailed_logins_per_minute = 3\n")).await;
    for name in ["amy", "bob", "cai"] {
        assert_eq!(
            code(hub.client.login(&attempt(name, "0000")).await),
            "bad_credentials"
        );
    }
    // The fourth try from this address is refused before any secret is checked, even
    // with the right PIN of a real account.
    let r = hub.client.login(&attempt("sup", "1234")).await;
    assert_eq!(code(r), "too_many_attempts");
    let actions = audit_actions(&hub.dir.join(hub::DB_FILE));
    assert!(
        actions.iter().any(|a| a == "login_rate_limited"),
        "{actions:?}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_get_no_further_than_the_rate_limit() {
    // GB/T 5.6.2: each guess counts from the moment it is let through, so guesses sent
    // all at once cannot all pass before the first one has failed.
    let hub = TestHub::start(config("[security]\nfailed_logins_per_minute = 3\n")).await;
    let guesses: Vec<_> = (0..20)
        .map(|n| {
            let client = hub.client.clone();
            tokio::spawn(async move {
                code(client.login(&attempt(&format!("guess-{n}"), "0000")).await)
            })
        })
        .collect();
    let mut codes = Vec::new();
    for g in guesses {
        codes.push(g.await.unwrap());
    }
    let count = |c: &str| codes.iter().filter(|x| *x == c).count();
    assert_eq!(count("bad_credentials"), 3, "{codes:?}");
    assert_eq!(count("too_many_attempts"), 17, "{codes:?}");
    // The first refusal is audited, not each of the seventeen.
    let actions = audit_actions(&hub.dir.join(hub::DB_FILE));
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "login_rate_limited")
            .count(),
        1,
        "{actions:?}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn administrators_need_a_password_and_secrets_are_stored_peppered() {
    let password = "correct-horse-battery";
    let admin = format!(
        "[[staff]]\nid = \"root\"\nname = \"Admin\"\nrole = \"admin\"\nsecret_hash = \"{}\"\n\
         [[staff]]\nid = \"pinadmin\"\nname = \"Admin with a PIN\"\nrole = \"admin\"\nsecret_hash = \"{{PIN}}\"\n",
        hub::auth::hash_secret(password).unwrap()
    );
    let hub = TestHub::start(config(&admin)).await;
    let r = hub
        .client
        .login(&attempt("pinadmin", hub::testkit::PIN))
        .await;
    assert_eq!(code(r), "password_required");
    hub.client
        .login(&attempt("root", password))
        .await
        .expect("an administrator signs in with a password");
    // Staff still use their PINs.
    hub.login("sup", Some(1)).await;

    // What the database holds is useless without the pepper file beside it.
    let dir = hub.stop().await;
    let c = rusqlite::Connection::open(dir.join(hub::DB_FILE)).unwrap();
    let stored: Vec<String> = c
        .prepare("SELECT secret_hash FROM staff WHERE secret_hash IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(stored.len() >= 3);
    assert!(stored.iter().all(|h| h.starts_with("pep1|")), "{stored:?}");
    let other = hub::auth::Pepper::from_bytes(&[1; 32]);
    for h in &stored {
        assert!(!hub::auth::verify_secret(
            Some(h),
            hub::testkit::PIN,
            &other
        ));
    }
    let pepper = std::fs::read_to_string(dir.join(hub::PEPPER_FILE)).unwrap();
    assert_eq!(pepper.trim().len(), 64);
    // Backups copy the database, never the pepper.
    let backups = dir.join("backups-check");
    let info =
        hub::backup::backup_into(&dir.join(hub::DB_FILE), &backups, chrono::Utc::now()).unwrap();
    let bytes = std::fs::read(&info.path).unwrap();
    assert!(!bytes.windows(64).any(|w| w == pepper.trim().as_bytes()));
}
