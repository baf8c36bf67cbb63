//! The five printed documents (queue ticket, intake slip GB/T 6.1.2, service agreement
//! 8.2.1, payment receipt 8.3/8.4.2, refund slip 8.4.3) at both paper widths and in both
//! languages: their layout as reviewable text snapshots, the width of every line, the
//! encoded bytes read back by an independent walk over the ESC/POS subset (GB18030 text
//! decoded, nothing outside the subset), masking of personal data (5.4.2), and the
//! renderer's picture of them, QR codes read back by zbar when it is installed.
//!
//! `SERVICEHALL_WRITE_RECEIPTS=1 cargo test -p servicehall-hardware --test documents`
//! also writes each document as a PNG to `docs/receipts/` for people to look at.

use std::path::PathBuf;
use std::process::Command;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use domain::{Channel, Fen, Quote, QuoteLine, ServiceType, TicketNumber};
use hardware::printer::document::{
    AgreementRef, Block, Centre, Document, IntakeSlip, Lang, Localized, PaymentMethod,
    PaymentReceipt, QueueTicket, RefundSlip, ServiceAgreement, ServiceName, Technician, Tender,
};
use hardware::printer::encode::{encode_job, paper_text};
use hardware::printer::render::{RenderError, render};
use hardware::printer::{PaperWidth, PrinterProfile, QrMode};
use unicode_width::UnicodeWidthStr;

const PHONE: &str = "13812345678";
const NAME: &str = "张伟";
const TICKET_URL: &str = "https://hall.example.cn/t/D012?d=2026-03-04";
const REQUEST_URL: &str = "https://hall.example.cn/r/R20260304-0012";
const SURVEY_URL: &str = "https://hall.example.cn/survey/R20260304-0012";

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn centre() -> Centre {
    Centre {
        name: Localized::new("海淀家电售后服务中心", "Haidian Appliance Service Centre"),
        address: "北京市海淀区中关村大街1号".to_owned(),
        phone: "400-800-1234".to_owned(),
    }
}

fn repair() -> ServiceName {
    ServiceName::standard(ServiceType::Repair)
}

fn by_lang(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::ZhCn => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn fees() -> Quote {
    let line = |code: &str, zh: &str, en: &str, quantity, fen| QuoteLine {
        code: code.to_owned(),
        name_zh: zh.to_owned(),
        name_en: en.to_owned(),
        quantity,
        unit_price: Fen(fen),
    };
    Quote {
        lines: vec![
            line("call_out", "上门费", "Call-out", 1, 3000),
            line("labour", "人工费", "Labour", 1, 8000),
            line("shock", "减震器", "Shock absorber", 2, 4550),
        ],
    }
}

fn technician() -> Technician {
    Technician {
        name: "李明".to_owned(),
        staff_no: "T0123".to_owned(),
        certificate: Some("家电维修工（高级）No. 2023-0456".to_owned()),
    }
}

fn ticket() -> QueueTicket {
    QueueTicket {
        centre: centre(),
        number: TicketNumber {
            prefix: 'D',
            seq: 12,
        },
        service: repair(),
        issued_at: at("2026-03-04 09:15"),
        people_ahead: 3,
        estimated_wait: Duration::seconds(14 * 60 + 30),
        status_url: TICKET_URL.to_owned(),
    }
}

fn intake(lang: Lang) -> IntakeSlip {
    IntakeSlip {
        centre: centre(),
        request_no: "R20260304-0012".to_owned(),
        service: repair(),
        channel: Channel::OnSite,
        accepted_at: at("2026-03-04 09:31"),
        customer_name: Some(NAME.to_owned()),
        customer_phone: Some(PHONE.to_owned()),
        product: Some(by_lang(lang, "滚筒洗衣机", "Front-load washing machine")),
        model: Some("XQG100-14B1".to_owned()),
        serial_number: Some("SN2025061800123456".to_owned()),
        purchase_date: Some(day("2025-06-18")),
        // The emoji is what a customer might type on a phone; paper gets a `?`.
        problem: Some(by_lang(
            lang,
            "脱水时机身剧烈晃动并有异响，显示错误代码E21。已自行调平，无效😀",
            "Shakes hard and bangs during the spin cycle, shows error E21. Levelling the feet did not help 😀",
        )),
        reply_due: Some(at("2026-03-04 10:31")),
        resolve_due: Some(at("2026-03-11 09:31")),
        status_url: Some(REQUEST_URL.to_owned()),
    }
}

fn agreement(lang: Lang) -> ServiceAgreement {
    ServiceAgreement {
        centre: centre(),
        agreement_no: "A20260304-0012".to_owned(),
        version: 2,
        request_no: "R20260304-0012".to_owned(),
        service: repair(),
        content: by_lang(
            lang,
            "检修滚筒洗衣机：更换减震器两只，检查并紧固配重块，试机确认脱水正常。",
            "Repair of the washing machine: replace both shock absorbers, check and tighten the counterweight, test the spin cycle.",
        ),
        starts_at: at("2026-03-05 14:00"),
        finish_by: at("2026-03-05 18:00"),
        place: by_lang(
            lang,
            "本中心维修车间（北京市海淀区中关村大街1号）",
            "The centre's workshop, 1 Zhongguancun Street, Haidian, Beijing",
        ),
        fees: fees(),
        change_procedure: Localized::new(
            "如需变更服务内容、时间或费用，须经双方协商一致并签订新版本协议，原版本同时作废。",
            "Any change to the content, time or fees must be agreed by both parties and recorded in a new version of this agreement, which replaces this one.",
        ),
        technician: technician(),
        customer_name: Some(NAME.to_owned()),
        customer_phone: Some(PHONE.to_owned()),
        issued_at: at("2026-03-04 09:52"),
    }
}

fn receipt(lang: Lang) -> PaymentReceipt {
    PaymentReceipt {
        centre: centre(),
        receipt_no: "P20260305-0031".to_owned(),
        request_no: "R20260304-0012".to_owned(),
        agreement: Some(AgreementRef {
            agreement_no: "A20260304-0012".to_owned(),
            version: 2,
        }),
        service: repair(),
        work_done: by_lang(
            lang,
            "已更换减震器两只，紧固配重块，试机三次脱水正常。",
            "Both shock absorbers replaced, counterweight tightened, spin cycle tested three times.",
        ),
        technician: Some(technician()),
        fees: fees(),
        // Cash in Chinese, the card terminal in English: both receipt shapes are seen.
        tender: match lang {
            Lang::ZhCn => Tender::Cash {
                tendered: Fen(25000),
            },
            Lang::En => Tender::BankCard {
                terminal_ref: "000412 RRN 612345678901".to_owned(),
            },
        },
        paid_at: at("2026-03-05 17:42"),
        survey_url: Some(SURVEY_URL.to_owned()),
    }
}

fn refund(lang: Lang) -> RefundSlip {
    RefundSlip {
        centre: centre(),
        refund_no: "F20260306-0002".to_owned(),
        request_no: "R20260304-0012".to_owned(),
        receipt_no: Some("P20260305-0031".to_owned()),
        amount: Fen(4550),
        method: PaymentMethod::BankCard,
        reason: by_lang(
            lang,
            "减震器只更换了一只，退还一只的配件费。",
            "Only one shock absorber was replaced; the second part is refunded.",
        ),
        requested_on: day("2026-03-06"),
        // GB/T 8.4.3: Friday + 5 working days.
        due_on: day("2026-03-13"),
    }
}

fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => "zh",
        Lang::En => "en",
    }
}

fn mm(width: PaperWidth) -> &'static str {
    match width {
        PaperWidth::Mm58 => "58mm",
        PaperWidth::Mm80 => "80mm",
    }
}

/// Every document, both widths, both languages, named like `queue_ticket_zh_58mm`.
fn all_documents() -> Vec<(String, Document)> {
    let mut out = Vec::new();
    for lang in [Lang::ZhCn, Lang::En] {
        for width in [PaperWidth::Mm58, PaperWidth::Mm80] {
            let docs = [
                ("queue_ticket", ticket().document(lang, width)),
                ("intake_slip", intake(lang).document(lang, width)),
                ("service_agreement", agreement(lang).document(lang, width)),
                ("payment_receipt", receipt(lang).document(lang, width)),
                ("refund_slip", refund(lang).document(lang, width)),
            ];
            for (name, doc) in docs {
                let name = format!("{name}_{}_{}", lang_code(lang), mm(width));
                match doc {
                    Ok(doc) => out.push((name, doc)),
                    Err(e) => panic!("{name}: {e}"),
                }
            }
        }
    }
    out
}

fn profile(width: PaperWidth, qr: QrMode) -> PrinterProfile {
    PrinterProfile {
        name: "test".to_owned(),
        width,
        qr,
    }
}

// ---------------------------------------------------------------- layout

#[test]
fn every_document_reads_well_on_paper() {
    for (name, doc) in all_documents() {
        insta::assert_snapshot!(name.clone(), doc.to_plain_text());
    }
}

#[test]
fn no_line_is_wider_than_the_paper() {
    for (name, doc) in all_documents() {
        let cols = doc.columns();
        for line in doc.text_lines() {
            assert!(
                line.columns() <= cols,
                "{name}: {:?} takes {} of {cols} columns",
                line.text(),
                line.columns()
            );
        }
        for block in doc.blocks() {
            if let Block::Qr(qr) = block {
                assert!(
                    qr.dots() <= doc.width().dots() as usize,
                    "{name}: QR too wide"
                );
            }
        }
        // The preview agrees: every line is exactly the paper's width between its bars.
        for line in doc.to_plain_text().lines().filter(|l| l.starts_with('|')) {
            let inner = line[1..].rsplit_once('|').map(|(inner, _)| inner).unwrap();
            assert_eq!(inner.width(), cols, "{name}: {line}");
        }
    }
}

#[test]
fn every_document_ends_with_a_cut_and_the_ticket_number_is_big() {
    for (name, doc) in all_documents() {
        assert!(matches!(doc.blocks().last(), Some(Block::Cut)), "{name}");
        if name.starts_with("queue_ticket") {
            let number = doc.text_lines().find(|l| l.text() == "D012").unwrap();
            assert_eq!(number.style().scale.width(), 3, "{name}");
            assert!(number.style().bold, "{name}");
        }
    }
}

#[test]
fn chinese_documents_show_the_english_service_name_too() {
    let doc = ticket().document(Lang::ZhCn, PaperWidth::Mm58).unwrap();
    let texts: Vec<&str> = doc.text_lines().map(|l| l.text()).collect();
    assert!(texts.contains(&"维修"));
    assert!(texts.contains(&"Repair"));
}

#[test]
fn documents_refuse_impossible_money() {
    let mut short = receipt(Lang::ZhCn);
    short.tender = Tender::Cash {
        tendered: Fen(10000),
    };
    let err = short.document(Lang::ZhCn, PaperWidth::Mm80).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the cash handed over (¥100.00) is less than the total (¥201.00)"
    );
    let mut zero = refund(Lang::En);
    zero.amount = Fen::ZERO;
    assert!(zero.document(Lang::En, PaperWidth::Mm80).is_err());
}

// ---------------------------------------------------------------- the bytes

/// What an independent reading of a job finds.
#[derive(Debug, Default)]
struct Job {
    /// Text lines, GB18030-decoded (empty lines dropped).
    lines: Vec<String>,
    /// Data of native QR codes.
    qr: Vec<String>,
    /// (bytes per row, rows) of raster images.
    rasters: Vec<(usize, usize)>,
    chinese_mode: bool,
    cuts: usize,
}

/// Walks `bytes` over exactly the subset tabled in `hardware::printer`; anything else is
/// an error.
fn walk(bytes: &[u8]) -> Result<Job, String> {
    let mut job = Job::default();
    let mut text = Vec::new();
    let mut chinese = false;
    let mut i = 0;
    let arg = |at: usize| bytes.get(at).copied().ok_or(format!("truncated at {at}"));
    let end_line = |text: &mut Vec<u8>, job: &mut Job| -> Result<(), String> {
        if !text.is_empty() {
            let decoded = encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(text)
                .ok_or_else(|| format!("text is not GB18030: {text:02x?}"))?
                .into_owned();
            job.lines.push(decoded);
            text.clear();
        }
        Ok(())
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x1B => {
                let len = match arg(i + 1)? {
                    b'@' => {
                        chinese = false;
                        2
                    }
                    b'2' => 2,
                    b'a' => {
                        if arg(i + 2)? > 2 {
                            return Err(format!("ESC a {}", arg(i + 2)?));
                        }
                        3
                    }
                    b't' | b'E' | b'-' | b'3' | b'J' => 3,
                    b'd' => {
                        end_line(&mut text, &mut job)?;
                        3
                    }
                    other => return Err(format!("ESC {other:#04x} at {i}")),
                };
                i += len;
            }
            0x1C => {
                match arg(i + 1)? {
                    b'&' => chinese = true,
                    b'.' => chinese = false,
                    other => return Err(format!("FS {other:#04x} at {i}")),
                }
                job.chinese_mode |= chinese;
                i += 2;
            }
            0x1D => match arg(i + 1)? {
                b'!' => i += 3,
                b'(' => {
                    if arg(i + 2)? != b'k' {
                        return Err(format!("GS ( {:#04x}", arg(i + 2)?));
                    }
                    let len = usize::from(arg(i + 3)?) + 256 * usize::from(arg(i + 4)?);
                    let body = bytes.get(i + 5..i + 5 + len).ok_or("truncated GS ( k")?;
                    match body {
                        [0x31, 0x41, 0x32, 0] | [0x31, 0x43, 1..=16] | [0x31, 0x45, 0x31] => {}
                        [0x31, 0x50, 0x30, data @ ..] => job
                            .qr
                            .push(String::from_utf8(data.to_vec()).map_err(|e| e.to_string())?),
                        [0x31, 0x51, 0x30] => {}
                        other => return Err(format!("GS ( k {other:02x?}")),
                    }
                    i += 5 + len;
                }
                b'v' => {
                    if arg(i + 2)? != 0x30 || arg(i + 3)? != 0 {
                        return Err("GS v other than 0, normal".to_owned());
                    }
                    let x = usize::from(arg(i + 4)?) + 256 * usize::from(arg(i + 5)?);
                    let y = usize::from(arg(i + 6)?) + 256 * usize::from(arg(i + 7)?);
                    if bytes.len() < i + 8 + x * y {
                        return Err("truncated GS v 0".to_owned());
                    }
                    job.rasters.push((x, y));
                    i += 8 + x * y;
                }
                b'V' => {
                    end_line(&mut text, &mut job)?;
                    job.cuts += 1;
                    i += match arg(i + 2)? {
                        0 | 1 | 48 | 49 => 3,
                        65 | 66 => 4,
                        other => return Err(format!("GS V {other}")),
                    };
                }
                other => return Err(format!("GS {other:#04x} at {i}")),
            },
            0x10 => return Err(format!("DLE inside a job at {i}")),
            0x0A => {
                end_line(&mut text, &mut job)?;
                i += 1;
            }
            0x00..=0x1F | 0x7F => return Err(format!("control byte {b:#04x} sent as text at {i}")),
            0x20..=0x7E => {
                text.push(b);
                i += 1;
            }
            _ => {
                if !chinese {
                    return Err(format!("byte {b:#04x} outside Chinese mode at {i}"));
                }
                let len = if matches!(arg(i + 1)?, 0x30..=0x39) {
                    4
                } else {
                    2
                };
                text.extend_from_slice(bytes.get(i..i + len).ok_or("truncated character")?);
                i += len;
            }
        }
    }
    end_line(&mut text, &mut job)?;
    Ok(job)
}

/// The lines `doc` should put on paper, as the printer is sent them.
fn expected_lines(doc: &Document) -> Vec<String> {
    doc.blocks()
        .iter()
        .filter_map(|b| match b {
            Block::Text(line) => Some(paper_text(line.text()).0),
            Block::Rule => Some("-".repeat(doc.columns())),
            _ => None,
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn qr_data(doc: &Document) -> Vec<String> {
    doc.blocks()
        .iter()
        .filter_map(|b| match b {
            Block::Qr(qr) => Some(qr.data().to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_bytes_read_back_as_the_document() {
    for (name, doc) in all_documents() {
        for mode in [QrMode::Native, QrMode::Raster] {
            let job = encode_job(&doc, &profile(doc.width(), mode)).unwrap();
            assert_eq!(&job.bytes[..2], &[0x1B, 0x40], "{name}: ESC @ first");
            assert_eq!(
                &job.bytes[job.bytes.len() - 4..],
                &[0x1D, 0x56, 66, 0],
                "{name}"
            );
            let read = walk(&job.bytes).unwrap_or_else(|e| panic!("{name} ({mode:?}): {e}"));
            assert_eq!(read.lines, expected_lines(&doc), "{name}");
            assert_eq!(read.chinese_mode, doc.needs_chinese_mode(), "{name}");
            assert_eq!(read.cuts, 1, "{name}");
            match mode {
                QrMode::Native => assert_eq!(read.qr, qr_data(&doc), "{name}"),
                QrMode::Raster => {
                    assert!(read.qr.is_empty());
                    assert_eq!(read.rasters.len(), qr_data(&doc).len(), "{name}");
                    let row = doc.width().dots() as usize / 8;
                    assert!(read.rasters.iter().all(|(x, _)| *x == row), "{name}");
                }
            }
        }
    }
}

#[test]
fn chinese_text_survives_the_round_trip() {
    let wanted = [
        (
            "queue_ticket_zh",
            &["海淀家电售后服务中心", "请妥善保管本票", "约 15 分钟"][..],
        ),
        ("intake_slip_zh", &["服务受理单", "答复时限", "滚筒洗衣机"]),
        (
            "service_agreement_zh",
            &["服务协议", "第 2 版", "客户签字：", "李明"],
        ),
        ("payment_receipt_zh", &["收款收据", "找零", "￥49.00"]),
        ("refund_slip_zh", &["退款单", "5 个工作日内", "2026-03-13"]),
    ];
    for (name, doc) in all_documents() {
        let Some((_, strings)) = wanted.iter().find(|(prefix, _)| name.starts_with(prefix)) else {
            continue;
        };
        let job = encode_job(&doc, &profile(doc.width(), QrMode::Native)).unwrap();
        let text = walk(&job.bytes).unwrap().lines.concat();
        for s in *strings {
            assert!(text.contains(s), "{name}: {s} missing from {text}");
        }
    }
}

#[test]
fn an_emoji_in_the_customers_words_prints_as_a_question_mark() {
    for (name, doc) in all_documents() {
        let job = encode_job(&doc, &profile(doc.width(), QrMode::Native)).unwrap();
        let expected = usize::from(name.starts_with("intake_slip"));
        assert_eq!(job.replaced, expected, "{name}");
    }
}

#[test]
fn no_full_phone_number_or_name_reaches_the_paper() {
    // GB/T 5.4.1–5.4.2
    for (name, doc) in all_documents() {
        let job = encode_job(&doc, &profile(doc.width(), QrMode::Native)).unwrap();
        assert!(
            !job.bytes
                .windows(PHONE.len())
                .any(|w| w == PHONE.as_bytes()),
            "{name}: full phone in the bytes"
        );
        assert!(!doc.to_plain_text().contains(PHONE), "{name}");
        let text = walk(&job.bytes).unwrap().lines.concat();
        assert!(!text.contains(NAME), "{name}: full name on paper");
        if name.starts_with("intake_slip") || name.starts_with("service_agreement") {
            assert!(text.contains("138****5678"), "{name}: masked phone missing");
            assert!(text.contains("张*"), "{name}: masked name missing");
        }
    }
}

// ---------------------------------------------------------------- the picture

/// Renders a job; previews need GNU Unifont, which the test set-up installs.
fn picture(bytes: &[u8], width: PaperWidth) -> Option<hardware::printer::render::Rendered> {
    match render(bytes, width) {
        Ok(r) => Some(r),
        Err(e @ RenderError::FontMissing { .. }) => panic!("{e}"),
        Err(e) => panic!("render failed: {e}"),
    }
}

#[test]
fn the_renderer_sees_exactly_the_laid_out_lines() {
    for (name, doc) in all_documents() {
        for mode in [QrMode::Native, QrMode::Raster] {
            let job = encode_job(&doc, &profile(doc.width(), mode)).unwrap();
            let Some(r) = picture(&job.bytes, doc.width()) else {
                return;
            };
            let lines: Vec<String> = r
                .text_lines
                .iter()
                .filter(|l| !l.is_empty())
                .cloned()
                .collect();
            // No automatic wrap: the renderer's line breaks are the layout's.
            assert_eq!(lines, expected_lines(&doc), "{name} ({mode:?})");
            assert!(r.warnings.is_empty(), "{name} ({mode:?}): {:?}", r.warnings);
            assert_eq!(r.cuts.len(), 1, "{name}");
            if mode == QrMode::Native {
                assert_eq!(r.qr_payloads, qr_data(&doc), "{name}");
            }
        }
    }
}

#[test]
fn zbar_reads_every_qr_code_native_and_raster() {
    assert!(
        Command::new("zbarimg").arg("--version").output().is_ok(),
        "this test needs zbarimg: apt-get install zbar-tools"
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, doc) in all_documents() {
        let wanted = qr_data(&doc);
        if wanted.is_empty() {
            continue;
        }
        for mode in [QrMode::Native, QrMode::Raster] {
            let job = encode_job(&doc, &profile(doc.width(), mode)).unwrap();
            let Some(r) = picture(&job.bytes, doc.width()) else {
                return;
            };
            let path = dir.path().join(format!("{name}_{mode:?}.png"));
            std::fs::write(&path, r.to_png().unwrap()).unwrap();
            let out = Command::new("zbarimg")
                .args(["-q", "--raw"])
                .arg(&path)
                .output()
                .unwrap();
            let read = String::from_utf8_lossy(&out.stdout);
            for data in &wanted {
                assert!(
                    read.lines().any(|l| l == data),
                    "{name} ({mode:?}): zbar read {read:?}, wanted {data}"
                );
            }
        }
    }
}

#[test]
fn write_receipt_pictures_for_people_to_look_at() {
    if std::env::var("SERVICEHALL_WRITE_RECEIPTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/receipts");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, doc) in all_documents() {
        let job = encode_job(&doc, &profile(doc.width(), QrMode::Native)).unwrap();
        let r = render(&job.bytes, doc.width()).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), r.to_png().unwrap()).unwrap();
    }
}
