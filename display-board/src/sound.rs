//! Voice announcements of calls (GB/T 7.1: a customer must never miss their call), fully
//! offline: a chime synthesised from sine tones, then recorded voice clips (generated with
//! espeak-ng by `voice/make-clips.sh` and compiled into the binary) concatenated into
//! "请 A012 号到 3 号窗口" and/or "Ticket A012, please go to counter 3".
//!
//! Rendering is pure ([`pieces`], [`Voice::render`]); [`Speaker`] plays on the default
//! ALSA device through rodio and falls back to logging when there is no device. This
//! module never decides *when* to announce (the model does).

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ui::Lang;

use crate::model::Announcement;

/// Every clip and the chime are rendered at this rate, mono.
pub const SAMPLE_RATE: u32 = 16_000;

include!(concat!(env!("OUT_DIR"), "/clips.rs"));

/// One piece of an announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// The two-tone chime before each announcement.
    Chime,
    /// A recorded clip, e.g. `(ZhCn, "qing")`, `(En, "A")`, `(ZhCn, "7")`.
    Clip(Lang, String),
    /// Silence, in milliseconds.
    Pause(u32),
}

impl Piece {
    fn clip(lang: Lang, name: impl Into<String>) -> Piece {
        Piece::Clip(lang, name.into())
    }

    /// A short name for tests and logs: `chime`, `zh:qing`, `en:A`, `pause`.
    pub fn label(&self) -> String {
        match self {
            Piece::Chime => "chime".into(),
            Piece::Clip(l, n) => format!("{}:{n}", l.tag()),
            Piece::Pause(_) => "pause".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoundError {
    #[error("ticket number `{0}` has a character the voice cannot say (only A-Z and 0-9)")]
    Unsayable(String),
    #[error("voice clip `{0}` is missing from the build")]
    MissingClip(String),
    #[error("voice clip `{0}` is not a 16 kHz mono 16-bit WAV: {1}")]
    BadClip(String, String),
    #[error("could not write {0}: {1}")]
    Write(String, String),
}

/// Which languages a call is announced in, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceLangs(pub Vec<Lang>);

impl Default for VoiceLangs {
    fn default() -> Self {
        VoiceLangs(vec![Lang::ZhCn, Lang::En])
    }
}

const GAP_MS: u32 = 40;
const BETWEEN_LANGS_MS: u32 = 450;
const AFTER_CHIME_MS: u32 = 200;

/// The pieces announcing `number` to `counter`: the chime, then each language.
pub fn pieces(a: &Announcement, langs: &VoiceLangs) -> Result<Vec<Piece>, SoundError> {
    let mut out = vec![Piece::Chime, Piece::Pause(AFTER_CHIME_MS)];
    for (i, &lang) in langs.0.iter().enumerate() {
        if i > 0 {
            out.push(Piece::Pause(BETWEEN_LANGS_MS));
        }
        let ticket = ticket_pieces(lang, &a.number)?;
        match lang {
            Lang::ZhCn => {
                out.push(Piece::clip(lang, "qing"));
                out.extend(ticket);
                out.push(Piece::clip(lang, "hao_dao"));
                out.extend(number_zh(a.counter));
                out.push(Piece::clip(lang, "hao_chuangkou"));
            }
            Lang::En => {
                out.push(Piece::clip(lang, "ticket"));
                out.extend(ticket);
                out.push(Piece::Pause(150));
                out.push(Piece::clip(lang, "please_go_to_counter"));
                out.extend(number_en(a.counter));
            }
        }
    }
    Ok(out)
}

/// Ticket numbers are read character by character: "A 0 1 2".
fn ticket_pieces(lang: Lang, number: &str) -> Result<Vec<Piece>, SoundError> {
    number
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9') => Ok(Piece::clip(lang, c.to_string())),
            _ => Err(SoundError::Unsayable(number.to_owned())),
        })
        .collect()
}

/// Counter numbers as Chinese words: 3 → 三, 10 → 十, 12 → 十二, 23 → 二十三; above 99
/// digit by digit.
fn number_zh(n: u32) -> Vec<Piece> {
    let d = |x: u32| Piece::clip(Lang::ZhCn, x.to_string());
    match n {
        0..=9 => vec![d(n)],
        10..=19 => {
            let mut v = vec![Piece::clip(Lang::ZhCn, "shi")];
            if n > 10 {
                v.push(d(n - 10));
            }
            v
        }
        20..=99 => {
            let mut v = vec![d(n / 10), Piece::clip(Lang::ZhCn, "shi")];
            if !n.is_multiple_of(10) {
                v.push(d(n % 10));
            }
            v
        }
        _ => digits(Lang::ZhCn, n),
    }
}

/// Counter numbers as English words: 3, 12 → twelve, 23 → twenty three.
fn number_en(n: u32) -> Vec<Piece> {
    let c = |x: u32| Piece::clip(Lang::En, x.to_string());
    match n {
        0..=19 => vec![c(n)],
        20..=99 => {
            let mut v = vec![c(n / 10 * 10)];
            if !n.is_multiple_of(10) {
                v.push(c(n % 10));
            }
            v
        }
        _ => digits(Lang::En, n),
    }
}

fn digits(lang: Lang, n: u32) -> Vec<Piece> {
    n.to_string()
        .chars()
        .map(|c| Piece::clip(lang, c.to_string()))
        .collect()
}

/// The decoded clips, ready to concatenate.
#[derive(Debug, Clone)]
pub struct Voice {
    clips: HashMap<(Lang, String), Vec<i16>>,
}

impl Voice {
    /// Decodes the clips compiled into the binary.
    pub fn load() -> Result<Voice, SoundError> {
        let mut clips = HashMap::new();
        for (tag, name, bytes) in CLIPS {
            let lang = if *tag == "zh" { Lang::ZhCn } else { Lang::En };
            let label = format!("{tag}:{name}");
            let mut reader = hound::WavReader::new(Cursor::new(*bytes))
                .map_err(|e| SoundError::BadClip(label.clone(), e.to_string()))?;
            let spec = reader.spec();
            if spec.sample_rate != SAMPLE_RATE || spec.channels != 1 || spec.bits_per_sample != 16 {
                return Err(SoundError::BadClip(label, format!("{spec:?}")));
            }
            let samples = reader
                .samples::<i16>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SoundError::BadClip(label, e.to_string()))?;
            clips.insert((lang, (*name).to_owned()), samples);
        }
        Ok(Voice { clips })
    }

    /// The length of one piece in samples.
    pub fn len_of(&self, piece: &Piece) -> Result<usize, SoundError> {
        Ok(match piece {
            Piece::Chime => chime().len(),
            Piece::Pause(ms) => pause(*ms).len(),
            Piece::Clip(l, n) => self.clip(*l, n)?.len(),
        })
    }

    fn clip(&self, lang: Lang, name: &str) -> Result<&[i16], SoundError> {
        self.clips
            .get(&(lang, name.to_owned()))
            .map(Vec::as_slice)
            .ok_or_else(|| SoundError::MissingClip(format!("{}:{name}", lang.tag())))
    }

    /// Concatenates the pieces (with a short gap after each clip) into 16 kHz mono samples.
    pub fn render(&self, pieces: &[Piece]) -> Result<Vec<i16>, SoundError> {
        let mut out = Vec::new();
        for p in pieces {
            match p {
                Piece::Chime => out.extend(chime()),
                Piece::Pause(ms) => out.extend(pause(*ms)),
                Piece::Clip(l, n) => {
                    out.extend_from_slice(self.clip(*l, n)?);
                    out.extend(pause(GAP_MS));
                }
            }
        }
        Ok(out)
    }

    /// The whole announcement of a call.
    pub fn announce(&self, a: &Announcement, langs: &VoiceLangs) -> Result<Vec<i16>, SoundError> {
        self.render(&pieces(a, langs)?)
    }
}

fn pause(ms: u32) -> Vec<i16> {
    vec![0; (SAMPLE_RATE * ms / 1000) as usize]
}

/// A two-tone "ding-dong" (E5 then C5), each tone with a soft attack and exponential decay.
pub fn chime() -> Vec<i16> {
    let mut out = Vec::new();
    for (freq, ms) in [(659.25_f32, 420_u32), (523.25, 650)] {
        let n = SAMPLE_RATE * ms / 1000;
        for i in 0..n {
            let t = i as f32 / SAMPLE_RATE as f32;
            let attack = (t / 0.01).min(1.0);
            let decay = (-t * 4.0).exp();
            // A little of the octave makes it sound like a bell rather than a beep.
            let wave = (2.0 * std::f32::consts::PI * freq * t).sin()
                + 0.3 * (4.0 * std::f32::consts::PI * freq * t).sin();
            out.push((wave / 1.3 * attack * decay * 0.8 * i16::MAX as f32) as i16);
        }
    }
    out
}

/// Writes 16 kHz mono samples to a WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), SoundError> {
    let err = |e: hound::Error| SoundError::Write(path.display().to_string(), e.to_string());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for s in samples {
        w.write_sample(*s).map_err(err)?;
    }
    w.finalize().map_err(err)
}

/// Announcements waiting to be spoken. A burst of calls can outrun the voice (each one
/// takes seconds), so the queue stays short and current: an announcement older than
/// [`AnnounceQueue::MAX_AGE`] is dropped unspoken (the board still shows the call), and a
/// newer one for the same ticket (a recall) replaces a queued one.
#[derive(Debug, Default)]
pub struct AnnounceQueue {
    items: VecDeque<(Instant, Announcement)>,
}

impl AnnounceQueue {
    /// How long an announcement may wait for its turn.
    pub const MAX_AGE: Duration = Duration::from_secs(30);

    pub fn new() -> AnnounceQueue {
        AnnounceQueue::default()
    }

    /// Queues `a`, received at `at`.
    pub fn push(&mut self, a: Announcement, at: Instant) {
        self.items.retain(|(_, q)| q.number != a.number);
        self.items.push_back((at, a));
    }

    /// The next announcement to speak at `now`, dropping those that waited too long.
    pub fn pop(&mut self, now: Instant) -> Option<Announcement> {
        while let Some((at, a)) = self.items.pop_front() {
            if now.saturating_duration_since(at) <= Self::MAX_AGE {
                return Some(a);
            }
            tracing::info!("board: announcement of {} dropped: too late", a.number);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Plays announcements one after another on a thread of its own, so a burst of calls is
/// spoken in order and never overlaps (through an [`AnnounceQueue`]). Without an audio
/// device it logs each announcement.
#[derive(Debug)]
pub struct Speaker {
    tx: mpsc::Sender<(Instant, Announcement)>,
}

impl Speaker {
    pub fn start(voice: Voice, langs: VoiceLangs) -> Speaker {
        let (tx, rx) = mpsc::channel::<(Instant, Announcement)>();
        let spawned = std::thread::Builder::new()
            .name("board-speaker".into())
            .spawn(move || speak_loop(&voice, &langs, &rx));
        if let Err(e) = spawned {
            tracing::warn!("board: no speaker thread ({e}); calls will not be announced");
        }
        Speaker { tx }
    }

    pub fn say(&self, a: Announcement) {
        if self.tx.send((Instant::now(), a)).is_err() {
            tracing::warn!("board: speaker stopped; call not announced");
        }
    }
}

fn speak_loop(voice: &Voice, langs: &VoiceLangs, rx: &mpsc::Receiver<(Instant, Announcement)>) {
    let sink = match rodio::DeviceSinkBuilder::open_default_sink() {
        Ok(mut s) => {
            s.log_on_drop(false);
            Some(s)
        }
        Err(e) => {
            tracing::warn!("board: no audio output ({e}); announcements are logged only");
            None
        }
    };
    let mut queue = AnnounceQueue::new();
    loop {
        // Wait for work only when nothing is queued; then take in everything that came in
        // meanwhile, so stale and superseded announcements are dropped before playing.
        if queue.is_empty() {
            match rx.recv() {
                Ok((at, a)) => queue.push(a, at),
                Err(_) => return,
            }
        }
        while let Ok((at, a)) = rx.try_recv() {
            queue.push(a, at);
        }
        let Some(a) = queue.pop(Instant::now()) else {
            continue;
        };
        let samples = match voice.announce(&a, langs) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("board: cannot announce {}: {e}; chime only", a.number);
                chime()
            }
        };
        let Some(sink) = &sink else {
            tracing::info!(
                "board: (no audio device) announcing {} to counter {} ({:.1} s)",
                a.number,
                a.counter,
                samples.len() as f32 / SAMPLE_RATE as f32
            );
            continue;
        };
        let (Some(ch), Some(rate)) = (
            std::num::NonZero::new(1_u16),
            std::num::NonZero::new(SAMPLE_RATE),
        ) else {
            continue;
        };
        let data: Vec<f32> = samples
            .iter()
            .map(|s| *s as f32 / i16::MAX as f32)
            .collect();
        let player = rodio::Player::connect_new(sink.mixer());
        player.append(rodio::buffer::SamplesBuffer::new(ch, rate, data));
        player.sleep_until_end();
    }
}
