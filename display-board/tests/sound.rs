//! Announcements rendered to WAV: the right clips in the right order, and a length a
//! person can follow (GB/T 7.1).

use display_board::model::Announcement;
use display_board::sound::{self, Piece, SAMPLE_RATE, Voice, VoiceLangs};
use ui::Lang;

fn a012() -> Announcement {
    Announcement {
        seq: 1,
        number: "A012".into(),
        counter: 3,
        recall: false,
    }
}

fn labels(p: &[Piece]) -> Vec<String> {
    p.iter()
        .filter(|p| !matches!(p, Piece::Pause(_)))
        .map(Piece::label)
        .collect()
}

#[test]
fn chinese_and_english_announcements_are_the_right_clips_in_order() {
    let zh = sound::pieces(&a012(), &VoiceLangs(vec![Lang::ZhCn])).unwrap();
    assert_eq!(
        labels(&zh),
        [
            "chime",
            "zh:qing",
            "zh:A",
            "zh:0",
            "zh:1",
            "zh:2",
            "zh:hao_dao",
            "zh:3",
            "zh:hao_chuangkou"
        ]
    );
    let en = sound::pieces(&a012(), &VoiceLangs(vec![Lang::En])).unwrap();
    assert_eq!(
        labels(&en),
        [
            "chime",
            "en:ticket",
            "en:A",
            "en:0",
            "en:1",
            "en:2",
            "en:please_go_to_counter",
            "en:3"
        ]
    );
    // Both: one chime, Chinese first.
    let both = sound::pieces(&a012(), &VoiceLangs::default()).unwrap();
    let l = labels(&both);
    assert_eq!(l.iter().filter(|p| *p == "chime").count(), 1);
    assert_eq!(l[1], "zh:qing");
    assert_eq!(l[9], "en:ticket");
    // Counter numbers are words: 十二 / twenty three.
    let twelve = Announcement {
        counter: 12,
        ..a012()
    };
    let l = labels(&sound::pieces(&twelve, &VoiceLangs(vec![Lang::ZhCn])).unwrap());
    assert_eq!(
        &l[6..],
        ["zh:hao_dao", "zh:shi", "zh:2", "zh:hao_chuangkou"]
    );
    let l = labels(
        &sound::pieces(
            &Announcement {
                counter: 23,
                ..a012()
            },
            &VoiceLangs(vec![Lang::En]),
        )
        .unwrap(),
    );
    assert_eq!(&l[6..], ["en:please_go_to_counter", "en:20", "en:3"]);
    assert!(
        sound::pieces(
            &Announcement {
                number: "A-1".into(),
                ..a012()
            },
            &VoiceLangs::default()
        )
        .is_err()
    );
}

#[test]
fn announcements_render_to_wav_of_the_expected_length() {
    let voice = Voice::load().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (lang, tag) in [(Lang::ZhCn, "zh"), (Lang::En, "en")] {
        let langs = VoiceLangs(vec![lang]);
        let pieces = sound::pieces(&a012(), &langs).unwrap();
        let samples = voice.render(&pieces).unwrap();
        // The length is exactly the sum of its pieces (each clip followed by a short gap).
        let clip_count = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Clip(..)))
            .count();
        let expected: usize = pieces
            .iter()
            .map(|p| voice.len_of(p).unwrap())
            .sum::<usize>()
            + clip_count * (SAMPLE_RATE as usize * 40 / 1000);
        assert_eq!(samples.len(), expected);

        let path = dir.path().join(format!("a012-{tag}.wav"));
        sound::write_wav(&path, &samples).unwrap();
        let reader = hound::WavReader::open(&path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (16_000, 1, 16)
        );
        let secs = reader.duration() as f32 / SAMPLE_RATE as f32;
        eprintln!("{tag}: {secs:.2} s");
        // Chime (~1.1 s) plus a sentence: long enough to follow, short enough not to queue up.
        assert!(
            (2.5..8.0).contains(&secs),
            "{tag} announcement lasts {secs} s"
        );

        // The chime comes first, and it is audible; the voice follows it.
        let chime = sound::chime();
        let got: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(&got[..chime.len()], chime.as_slice());
        let peak = |s: &[i16]| s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        assert!(peak(&chime) > 10_000);
        assert!(peak(&got[chime.len()..]) > 5_000, "the voice is not silent");
    }
    // Both languages: longer than either alone.
    let both = voice.announce(&a012(), &VoiceLangs::default()).unwrap();
    let zh = voice
        .announce(&a012(), &VoiceLangs(vec![Lang::ZhCn]))
        .unwrap();
    assert!(both.len() > zh.len() + SAMPLE_RATE as usize);
    if std::env::var_os("SERVICEHALL_WRITE_SCREENSHOTS").is_some() {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/screenshots/announcement-A012-counter3.wav");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        sound::write_wav(&out, &both).unwrap();
    }
}

#[test]
fn every_ticket_character_and_counter_word_has_a_clip() {
    let voice = Voice::load().unwrap();
    for lang in Lang::ALL {
        for c in ('A'..='Z').chain('0'..='9') {
            voice.len_of(&Piece::Clip(lang, c.to_string())).unwrap();
        }
        for counter in 1..=120 {
            let a = Announcement { counter, ..a012() };
            voice.announce(&a, &VoiceLangs(vec![lang])).unwrap();
        }
    }
}

#[test]
fn a_burst_of_calls_is_spoken_current_not_late() {
    use display_board::sound::AnnounceQueue;
    use std::time::{Duration, Instant};
    let t = Instant::now();
    let call = |number: &str, counter, recall| Announcement {
        number: number.into(),
        counter,
        recall,
        ..a012()
    };
    let mut q = AnnounceQueue::new();
    q.push(call("A001", 1, false), t);
    q.push(call("A002", 2, false), t + Duration::from_secs(20));
    q.push(call("A003", 3, false), t + Duration::from_secs(21));
    // A003 recalled before its first announcement was spoken: said once, as the recall.
    q.push(call("A003", 3, true), t + Duration::from_secs(25));
    assert_eq!(q.len(), 3);
    // 40 s on (the speaker was busy): A001 waited too long and is dropped unspoken.
    let now = t + Duration::from_secs(40);
    let spoken: Vec<(String, bool)> = std::iter::from_fn(|| q.pop(now))
        .map(|a| (a.number, a.recall))
        .collect();
    assert_eq!(
        spoken,
        [("A002".to_owned(), false), ("A003".to_owned(), true)]
    );
    assert!(q.is_empty());
}
