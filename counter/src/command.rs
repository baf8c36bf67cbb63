//! What the screen asks the desk to do, one [`Command`] per button or function key, and
//! what the screen shows afterwards: a notice in the station's language, the fields to
//! clear (only after success: what staff typed survives a failure), a tab to switch to.
//!
//! It never touches Slint; the adapter turns a [`Reply`] into property changes.

use domain::Fen;
use protocol::devices::DeviceRole;
use protocol::{CreateAppointment, DraftAgreement, RecordFollowUp};
use ui::Lang;

use crate::desk::{
    CardOutcome, Desk, DeskError, OtherPayment, Paid, Printed, RefundDraft, RequestDraft, Transfer,
};
use crate::{enrolment, text};

/// One action asked for on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Login {
        staff_id: String,
        pin: String,
    },
    Unlock {
        pin: String,
    },
    Logout,
    Lock,
    CallNext,
    Recall,
    Start,
    Finish,
    NoShow,
    Hold,
    /// `None`: the first ticket on hold at this counter.
    Resume(Option<i64>),
    Call(i64),
    CallNumber(String),
    Transfer(Transfer),
    /// Opens an earlier request by id (a refund or a question about a past visit).
    OpenRequest(i64),
    RevealContact,
    HideContact,
    /// The customer wants no more text messages (GB/T 5.4).
    StopTexts,
    Advance,
    Search(String),
    CreateRequest(RequestDraft),
    FindSlots {
        service: domain::ServiceType,
        date: chrono::NaiveDate,
    },
    Book(CreateAppointment),
    /// Shows an appointment by its confirmation code.
    LookupAppointment(String),
    Reschedule {
        code: String,
        slot_start: chrono::DateTime<chrono::Utc>,
        reason: Option<String>,
    },
    CancelAppointment {
        code: String,
        reason: Option<String>,
    },
    AddItem(String),
    RemoveItem(String),
    IssueQuote,
    AcknowledgeQuote,
    PayCard,
    Pay(OtherPayment),
    CheckCard,
    ResolveCard {
        charged: bool,
    },
    PrintReceipt(i64),
    SaveAgreement(DraftAgreement),
    PreviewAgreement(u32),
    PrintAgreement(u32),
    Refund(RefundDraft),
    PayOutRefund(i64),
    LoadRefunds,
    LoadFollowUps,
    RevealFollowUp(i64),
    RecordFollowUp {
        request_id: i64,
        call: RecordFollowUp,
    },
    Reprint,
    /// The Devices page (GB/T 5.4): the list, a pairing code, a revocation confirmed.
    LoadDevices,
    PairDevice {
        role: DeviceRole,
        device_id: String,
    },
    ClosePairing,
    AskRevoke(String),
    CancelRevoke,
    ConfirmRevoke,
    /// Background upkeep (kept print jobs, unrecorded card payments).
    Tick,
    SetLang(Lang),
}

impl Command {
    /// What the status line says while it runs.
    pub fn busy_text(&self, lang: Lang) -> String {
        let (zh, en) = match self {
            Command::Login { .. } | Command::Unlock { .. } => ("正在登录…", "Logging in…"),
            Command::PayCard => (
                "请客户在终端上刷卡或插卡…",
                "Waiting for the card on the terminal…",
            ),
            Command::CheckCard | Command::ResolveCard { .. } => {
                ("正在与支付终端核对…", "Checking with the terminal…")
            }
            Command::PayOutRefund(_) => ("正在退款…", "Paying the refund…"),
            Command::CallNext | Command::Call(_) | Command::CallNumber(_) => {
                ("正在叫号…", "Calling…")
            }
            Command::PrintAgreement(_) | Command::PrintReceipt(_) | Command::Reprint => {
                ("正在打印…", "Printing…")
            }
            Command::PairDevice { .. } => ("正在生成配对码…", "Making a pairing code…"),
            Command::ConfirmRevoke => ("正在吊销设备…", "Revoking the device…"),
            _ => ("请稍候…", "Working…"),
        };
        lang.pick(zh, en).to_owned()
    }

    /// Whether the keyboard should go back to the function keys afterwards (not for
    /// actions taken while typing in a field).
    pub fn refocus(&self) -> bool {
        !matches!(
            self,
            Command::Search(_) | Command::Tick | Command::AddItem(_) | Command::RemoveItem(_)
        )
    }
}

/// How a notice is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Done = 1,
    Warn = 2,
    Error = 3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

/// Fields of the screen to empty after a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clear {
    Pin,
    CallNumber,
    RequestForm,
    Tendered,
    Reference,
    Transfer,
    RefundForm,
    FollowUpForm,
    AppointmentReason,
    /// The device id typed for a pairing code.
    DeviceId,
}

/// What the card panel shows after a card transaction that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardPanel {
    Approved(String),
    Declined(String),
}

/// What the screen does after a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub notice: Option<Notice>,
    pub clear: Vec<Clear>,
    pub tab: Option<i32>,
    pub card: Option<CardPanel>,
    /// The login or unlock failed: the message goes on that screen.
    pub login_error: Option<String>,
    /// The session is gone: back to the login screen.
    pub logged_out: bool,
}

impl Reply {
    fn done(text: String) -> Reply {
        Reply {
            notice: Some(Notice {
                level: Level::Done,
                text,
            }),
            ..Reply::default()
        }
    }

    fn warn(text: String) -> Reply {
        Reply {
            notice: Some(Notice {
                level: Level::Warn,
                text,
            }),
            ..Reply::default()
        }
    }

    fn clearing(mut self, c: Clear) -> Reply {
        self.clear.push(c);
        self
    }

    fn with_tab(mut self, tab: i32) -> Reply {
        self.tab = Some(tab);
        self
    }
}

fn t(lang: Lang, zh: impl Into<String>, en: impl Into<String>) -> String {
    match lang {
        Lang::ZhCn => zh.into(),
        Lang::En => en.into(),
    }
}

/// A desk error in the station's language. The hub's and the devices' own sentences are
/// English; a Chinese screen puts a Chinese headline before them.
pub fn error_text(e: &DeskError, lang: Lang) -> String {
    if lang == Lang::En {
        let s = e.to_string();
        let mut c = s.chars();
        return match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => s,
        };
    }
    match e {
        DeskError::HubUnreachable(_) => "无法连接服务器，输入内容已保留，请稍后重试。".into(),
        DeskError::Refused { detail, .. } => format!("服务器拒绝：{detail}"),
        DeskError::BadAnswer(d) => format!("服务器应答无法识别：{d}"),
        DeskError::NotLoggedIn => "请先登录。".into(),
        DeskError::Locked => "屏幕已锁定，请输入 PIN。".into(),
        DeskError::NoTicket => "本窗口当前没有票号。".into(),
        DeskError::NoRequest => "没有打开的服务单。".into(),
        DeskError::Invalid(d) => format!("无法办理：{d}"),
        DeskError::BadDeviceId(id) => enrolment::bad_id_text(id).0,
        DeskError::NoPrinter => "本窗口未配置打印机。".into(),
        DeskError::NoTerminal => "本窗口未配置刷卡终端：请收现金、扫码或支票。".into(),
        DeskError::Terminal(d) => format!("支付终端：{d}（未扣款）"),
        DeskError::CardUnresolved { amount } => {
            format!("有一笔 {amount} 的刷卡交易结果未知：请先核对终端。")
        }
        DeskError::Document(kind, d) => format!("单据无法排版（{kind}）：{d}"),
        DeskError::Preview(d) => format!("无法生成预览：{d}"),
        DeskError::Device(d) => format!("设备线程出错：{d}"),
    }
}

fn printed_text(p: &Printed, lang: Lang) -> Option<String> {
    match p {
        Printed::Printed => None,
        Printed::NoPrinter => Some(t(lang, "（未配置打印机）", " (no printer)")),
        Printed::Kept(why) => Some(t(
            lang,
            format!("打印失败，单据已保留待重印：{why}"),
            format!(" Printing failed, the document is kept for a reprint: {why}"),
        )),
    }
}

fn paid_reply(p: &Paid, lang: Lang) -> Reply {
    let mut text = match p.change {
        Some(change) => t(
            lang,
            format!("已收款 {}，找零 {change}。", p.payment.amount),
            format!("Paid {}. Change: {change}.", p.payment.amount),
        ),
        None => t(
            lang,
            format!(
                "已收款 {}（{}）。",
                p.payment.amount,
                text::method_name(p.payment.method, lang)
            ),
            format!(
                "Paid {} ({}).",
                p.payment.amount,
                text::method_name(p.payment.method, lang)
            ),
        ),
    };
    match printed_text(&p.receipt, lang) {
        None => {
            text.push_str(&t(lang, "收据已打印。", " Receipt printed."));
            Reply::done(text)
        }
        Some(extra) => {
            text.push_str(&extra);
            if matches!(p.receipt, Printed::Kept(_)) {
                Reply::warn(text)
            } else {
                Reply::done(text)
            }
        }
    }
}

fn card_reply(o: CardOutcome, lang: Lang) -> Reply {
    match o {
        CardOutcome::Paid(p) => {
            let mut r = paid_reply(&p, lang);
            r.card = Some(CardPanel::Approved(
                p.payment.reference.clone().unwrap_or_default(),
            ));
            r
        }
        CardOutcome::Refunded(r) => Reply::done(t(
            lang,
            format!("退款 {} 已退回银行卡。", r.amount),
            format!("The refund of {} went back to the card.", r.amount),
        )),
        CardOutcome::Declined(why) => {
            let mut r = Reply::warn(t(
                lang,
                format!("银行卡被拒绝，未扣款：{why}"),
                format!("Card declined, nothing was charged: {why}"),
            ));
            r.card = Some(CardPanel::Declined(why));
            r
        }
        CardOutcome::Unknown(why) => Reply {
            notice: Some(Notice {
                level: Level::Error,
                text: t(
                    lang,
                    format!("刷卡结果未知，请勿重新刷卡，先核对终端：{why}"),
                    format!(
                        "Card outcome unknown: do not take the card again, check the terminal: {why}"
                    ),
                ),
            }),
            ..Reply::default()
        },
        CardOutcome::Unrecorded(why) => Reply::warn(t(
            lang,
            format!("刷卡已成功；服务器暂时无法连接，将自动补记：{why}"),
            why,
        )),
    }
}

/// Runs one command on the desk.
pub async fn handle(desk: &mut Desk, cmd: Command) -> Reply {
    let lang = desk.lang();
    match run(desk, cmd, lang).await {
        Ok(r) => r,
        Err((e, login)) => {
            let text = error_text(&e, lang);
            if e.is_session_gone() && !login {
                let _ = desk.logout().await;
                return Reply {
                    login_error: Some(t(
                        lang,
                        "登录已失效，请重新登录。",
                        "The session has ended: log in again.",
                    )),
                    logged_out: true,
                    ..Reply::default()
                };
            }
            Reply {
                login_error: login.then(|| text.clone()),
                notice: Some(Notice {
                    level: if e.is_unreachable() {
                        Level::Warn
                    } else {
                        Level::Error
                    },
                    text,
                }),
                ..Reply::default()
            }
        }
    }
}

type Failed = (DeskError, bool);

/// The hub's refusals of an appointment change, said plainly in both languages; other
/// failures go the usual way.
fn appointment_failed(e: DeskError, lang: Lang) -> Result<Reply, Failed> {
    let plain = match &e {
        DeskError::Refused { code, .. } => match code.as_str() {
            "slot_full" => Some((
                "该时段已约满，请另选时段。",
                "That time is full: pick another one.",
            )),
            "appointment_closed" => Some((
                "该预约已取消、已签到或已爽约，不能再更改。",
                "This appointment is cancelled, checked in or missed: it cannot be changed.",
            )),
            "unknown_appointment" => Some((
                "没有这个预约码，请核对。",
                "No appointment has this code: check it.",
            )),
            "invalid_field" => Some((
                "所选时段无效，请重新查找可预约时段。",
                "That time cannot be booked: find the free times again.",
            )),
            _ => None,
        },
        _ => None,
    };
    match plain {
        Some((zh, en)) => Ok(Reply {
            notice: Some(Notice {
                level: Level::Error,
                text: t(lang, zh, en),
            }),
            ..Reply::default()
        }),
        None => Err(on(e)),
    }
}

fn on(e: DeskError) -> Failed {
    (e, false)
}

async fn run(desk: &mut Desk, cmd: Command, lang: Lang) -> Result<Reply, Failed> {
    Ok(match cmd {
        Command::Login { staff_id, pin } => {
            let s = desk.login(&staff_id, &pin).await.map_err(|e| (e, true))?;
            Reply::done(t(
                lang,
                format!("{} 已在 {} 号窗口登录。", s.name, desk.counter()),
                format!("{} logged in at counter {}.", s.name, desk.counter()),
            ))
            .clearing(Clear::Pin)
            .with_tab(0)
        }
        Command::Unlock { pin } => {
            desk.unlock(&pin).await.map_err(|e| (e, true))?;
            Reply::done(t(lang, "已解锁。", "Unlocked.")).clearing(Clear::Pin)
        }
        Command::Logout => {
            desk.logout().await.map_err(on)?;
            Reply {
                logged_out: true,
                ..Reply::done(t(lang, "已退出登录。", "Logged out."))
            }
        }
        Command::Lock => {
            desk.lock();
            Reply::default()
        }
        Command::CallNext => match desk.call_next().await.map_err(on)? {
            Some(tk) => Reply::done(t(
                lang,
                format!("已呼叫 {}。", tk.number),
                format!("Called {}.", tk.number),
            ))
            .with_tab(0),
            None => Reply::warn(t(
                lang,
                "没有您可以办理的等候客户。",
                "Nobody you may serve is waiting.",
            )),
        },
        Command::Call(id) => {
            let tk = desk.call(id).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("已呼叫 {}。", tk.number),
                format!("Called {}.", tk.number),
            ))
            .with_tab(0)
        }
        Command::CallNumber(n) => {
            let tk = desk.call_number(&n).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("已呼叫 {}。", tk.number),
                format!("Called {}.", tk.number),
            ))
            .clearing(Clear::CallNumber)
            .with_tab(0)
        }
        Command::Recall => {
            let tk = desk.recall().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("已重新呼叫 {}（第 {} 次）。", tk.number, tk.recalls),
                format!("Recalled {} (recall {}).", tk.number, tk.recalls),
            ))
        }
        Command::Start => {
            let tk = desk.start().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("开始为 {} 办理。", tk.number),
                format!("Serving {}.", tk.number),
            ))
        }
        Command::Finish => {
            let tk = desk.finish().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("{} 已办结，窗口空闲。", tk.number),
                format!("{} finished; the counter is free.", tk.number),
            ))
        }
        Command::NoShow => {
            let tk = desk.no_show().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("{} 已过号。", tk.number),
                format!("{} marked as a no-show.", tk.number),
            ))
        }
        Command::Hold => {
            let tk = desk.hold().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("{} 已暂停，可随时恢复。", tk.number),
                format!(
                    "{} is on hold; resume it when the customer is back.",
                    tk.number
                ),
            ))
        }
        Command::Resume(id) => {
            let id = match id {
                Some(id) => id,
                None => {
                    let q = desk.queue().await.map_err(on)?;
                    q.hold_order(desk.counter())
                        .first()
                        .filter(|t| t.counter == Some(desk.counter()))
                        .map(|t| t.id)
                        .ok_or_else(|| {
                            on(DeskError::Invalid(t(
                                lang,
                                "本窗口没有暂停的票号",
                                "no ticket is on hold at this counter",
                            )))
                        })?
                }
            };
            let tk = desk.resume(id).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("已恢复 {}。", tk.number),
                format!("Resumed {}.", tk.number),
            ))
            .with_tab(0)
        }
        Command::Transfer(to) => {
            let tk = desk.transfer(to).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!(
                    "{} 已转至 {}。",
                    tk.number,
                    text::service_name(tk.service, lang)
                ),
                format!(
                    "{} transferred to {}.",
                    tk.number,
                    text::service_name(tk.service, lang)
                ),
            ))
            .clearing(Clear::Transfer)
        }
        Command::OpenRequest(id) => {
            let r = desk.open_request(id).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("已打开服务单 {}。", r.id),
                format!("Request {} is open.", r.id),
            ))
        }
        Command::RevealContact => {
            desk.reveal_contact().await.map_err(on)?;
            Reply::warn(t(
                lang,
                "联系方式已显示，本次查看已记入审计日志。",
                "Contact shown; this access is in the audit log.",
            ))
        }
        Command::HideContact => {
            desk.hide_contact();
            Reply::default()
        }
        Command::StopTexts => {
            desk.stop_texts().await.map_err(on)?;
            Reply::done(t(
                lang,
                "已为该客户停发短信。",
                "No more text messages will go to this customer.",
            ))
        }
        Command::Advance => {
            let r = desk.advance().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("服务单已进入“{}”阶段。", text::stage_name(r.stage, lang)),
                format!("The request moved to {}.", text::stage_name(r.stage, lang)),
            ))
        }
        Command::Search(q) => {
            let kb = desk.search_knowledge(&q).await.map_err(on)?;
            let n = kb.faqs.len() + kb.categories.len();
            Reply::done(t(lang, format!("找到 {n} 条。"), format!("{n} found.")))
        }
        Command::CreateRequest(d) => {
            let for_ticket = d.for_ticket;
            let r = desk.create_request(d).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("服务单 {} 已受理。", r.id),
                format!("Request {} accepted.", r.id),
            ))
            .clearing(Clear::RequestForm)
            .with_tab(if for_ticket || desk.ticket().is_none() {
                0
            } else {
                5
            })
        }
        Command::FindSlots { service, date } => {
            let n = desk.find_slots(service, date).await.map_err(on)?.len();
            if n == 0 {
                Reply::warn(t(
                    lang,
                    format!("{date} 没有可预约的时段。"),
                    format!("No free time on {date}."),
                ))
            } else {
                Reply::done(t(
                    lang,
                    format!("{date} 有 {n} 个可预约时段。"),
                    format!("{n} free times on {date}."),
                ))
            }
        }
        Command::Book(req) => {
            let a = desk.book_appointment(req).await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("预约成功，预约码 {}。", a.code),
                format!("Booked: appointment code {}.", a.code),
            ))
        }
        Command::LookupAppointment(code) => {
            let a = match desk.lookup_appointment(&code).await {
                Ok(a) => a,
                Err(e) => return appointment_failed(e, lang),
            };
            Reply::done(t(
                lang,
                format!("已找到预约 {}。", a.code),
                format!("Appointment {} found.", a.code),
            ))
        }
        Command::Reschedule {
            code,
            slot_start,
            reason,
        } => {
            let a = match desk.reschedule_appointment(&code, slot_start, reason).await {
                Ok(a) => a,
                Err(e) => return appointment_failed(e, lang),
            };
            let when = text::local_text(a.slot_start, desk.zone());
            Reply::done(t(
                lang,
                format!("预约 {} 已改到 {when}。", a.code),
                format!("Appointment {} moved to {when}.", a.code),
            ))
            .clearing(Clear::AppointmentReason)
        }
        Command::CancelAppointment { code, reason } => {
            let a = match desk.cancel_appointment(&code, reason).await {
                Ok(a) => a,
                Err(e) => return appointment_failed(e, lang),
            };
            Reply::done(t(
                lang,
                format!("预约 {} 已取消。", a.code),
                format!("Appointment {} cancelled.", a.code),
            ))
            .clearing(Clear::AppointmentReason)
        }
        Command::AddItem(code) => {
            desk.add_item(&code).map_err(on)?;
            Reply::default()
        }
        Command::RemoveItem(code) => {
            desk.remove_item(&code);
            Reply::default()
        }
        Command::IssueQuote => {
            let q = desk.issue_quote().await.map_err(on)?;
            Reply::warn(t(
                lang,
                format!(
                    "报价第 {} 版（{}）已出具：请向客户逐项说明并确认。",
                    q.version, q.total
                ),
                format!(
                    "Quote v{} ({}) issued: show it to the customer item by item for acknowledgement.",
                    q.version, q.total
                ),
            ))
        }
        Command::AcknowledgeQuote => {
            let q = desk.acknowledge_quote().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("客户已确认报价第 {} 版（{}）。", q.version, q.total),
                format!(
                    "The customer acknowledged quote v{} ({}).",
                    q.version, q.total
                ),
            ))
        }
        Command::PayCard => card_reply(desk.pay_card().await.map_err(on)?, lang),
        Command::Pay(how) => {
            let clear = match how {
                OtherPayment::Cash { .. } => Clear::Tendered,
                _ => Clear::Reference,
            };
            paid_reply(&desk.pay(how).await.map_err(on)?, lang).clearing(clear)
        }
        Command::CheckCard => card_reply(desk.check_card().await.map_err(on)?, lang),
        Command::ResolveCard { charged } => {
            card_reply(desk.resolve_card(charged).await.map_err(on)?, lang)
        }
        Command::PrintReceipt(id) => {
            let p = desk.print_receipt(id).await.map_err(on)?;
            printed_reply(&p, lang, t(lang, "收据已打印。", "Receipt printed."))
        }
        Command::SaveAgreement(d) => {
            let a = desk.write_agreement(d).await.map_err(on)?;
            let _ = desk.preview_agreement(a.version);
            Reply::done(t(
                lang,
                format!("服务协议第 {} 版已保存。", a.version),
                format!("Service agreement v{} saved.", a.version),
            ))
        }
        Command::PreviewAgreement(v) => {
            desk.preview_agreement(v).map_err(on)?;
            Reply::default()
        }
        Command::PrintAgreement(v) => {
            let p = desk.print_agreement(v).await.map_err(on)?;
            printed_reply(
                &p,
                lang,
                t(
                    lang,
                    format!("服务协议第 {v} 版已打印，请双方签字。"),
                    format!("Agreement v{v} printed: both parties sign it."),
                ),
            )
        }
        Command::Refund(d) => {
            let (r, printed) = desk.refund(d).await.map_err(on)?;
            let text = t(
                lang,
                format!("退款 {} 已登记，应于 {} 前退回。", r.amount, r.due_date),
                format!("Refund of {} recorded; due by {}.", r.amount, r.due_date),
            );
            printed_reply(&printed, lang, text).clearing(Clear::RefundForm)
        }
        Command::PayOutRefund(id) => card_reply(desk.pay_out_refund(id).await.map_err(on)?, lang),
        Command::LoadRefunds => {
            desk.load_refunds().await.map_err(on)?;
            Reply::default()
        }
        Command::LoadFollowUps => {
            desk.load_follow_ups().await.map_err(on)?;
            Reply::default()
        }
        Command::RevealFollowUp(id) => {
            desk.reveal_follow_up_contact(id).await.map_err(on)?;
            Reply::warn(t(
                lang,
                "号码已显示，本次查看已记入审计日志。",
                "Number shown; this access is in the audit log.",
            ))
        }
        Command::RecordFollowUp { request_id, call } => {
            let v = desk.record_follow_up(request_id, call).await.map_err(on)?;
            Reply::done(if v.reached {
                t(lang, "回访结果已记录。", "Follow-up recorded.")
            } else {
                t(
                    lang,
                    "未联系上，已记录，稍后再拨。",
                    "Not reached: recorded; call again later.",
                )
            })
            .clearing(Clear::FollowUpForm)
        }
        Command::Reprint => {
            let p = desk.reprint().await.map_err(on)?;
            printed_reply(&p, lang, t(lang, "已重新打印。", "Printed again."))
        }
        Command::LoadDevices => {
            desk.load_devices().await.map_err(on)?;
            Reply::default()
        }
        Command::PairDevice { role, device_id } => {
            let zone = desk.zone();
            let p = &desk
                .pair_device(role, &device_id)
                .await
                .map_err(on)?
                .pairing;
            let (zh, en) = enrolment::role_names(p.role);
            let until = text::clock_text(p.expires_at, zone);
            Reply::done(t(
                lang,
                format!(
                    "已为 {}（{zh}）生成配对码，{until} 前有效，只能使用一次。",
                    p.device_id
                ),
                format!(
                    "Pairing code made for {} ({en}): valid until {until}, once.",
                    p.device_id
                ),
            ))
            .clearing(Clear::DeviceId)
        }
        Command::ClosePairing => {
            desk.close_pairing();
            Reply::default()
        }
        Command::AskRevoke(id) => {
            desk.ask_revoke(&id).map_err(on)?;
            Reply::default()
        }
        Command::CancelRevoke => {
            desk.cancel_revoke();
            Reply::default()
        }
        Command::ConfirmRevoke => {
            let d = desk.confirm_revoke().await.map_err(on)?;
            Reply::done(t(
                lang,
                format!("{} 已吊销：服务器将拒绝它的下一次请求。", d.device_id),
                format!(
                    "{} is revoked: the hub refuses its next request.",
                    d.device_id
                ),
            ))
        }
        Command::Tick => {
            desk.tick().await;
            Reply::default()
        }
        Command::SetLang(l) => {
            desk.set_lang(l);
            Reply::default()
        }
    })
}

fn printed_reply(p: &Printed, lang: Lang, ok: String) -> Reply {
    match p {
        Printed::Printed => Reply::done(ok),
        Printed::NoPrinter => Reply::warn(t(
            lang,
            "本窗口未配置打印机。",
            "No printer is configured at this counter.",
        )),
        Printed::Kept(_) => {
            let extra = printed_text(p, lang).unwrap_or_default();
            Reply::warn(format!("{ok}{extra}"))
        }
    }
}

/// Cash change as the screen shows it while staff type the amount received.
pub fn change_text(due: Option<Fen>, typed: &str, lang: Lang) -> String {
    let (Some(due), Some(got)) = (due, text::parse_yuan(typed)) else {
        return String::new();
    };
    if due <= Fen::ZERO {
        return String::new();
    }
    if got < due {
        t(
            lang,
            format!("还差 {}", Fen(due.0 - got.0)),
            format!("{} short", Fen(due.0 - got.0)),
        )
    } else {
        t(
            lang,
            format!("找零 {}", Fen(got.0 - due.0)),
            format!("Change {}", Fen(got.0 - due.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_is_computed_in_fen() {
        assert_eq!(
            change_text(Some(Fen(8_750)), "100", Lang::En),
            "Change ¥12.50"
        );
        assert_eq!(change_text(Some(Fen(8_750)), "80", Lang::En), "¥7.50 short");
        assert_eq!(
            change_text(Some(Fen(8_750)), "87.5", Lang::ZhCn),
            "找零 ¥0.00"
        );
        assert_eq!(change_text(None, "100", Lang::En), "");
        assert_eq!(
            change_text(Some(Fen::ZERO), "100", Lang::En),
            "",
            "nothing due"
        );
        assert_eq!(change_text(Some(Fen(1)), "abc", Lang::En), "");
    }

    #[test]
    fn errors_read_in_the_screens_language() {
        let e = DeskError::NoTicket;
        assert_eq!(error_text(&e, Lang::En), "No ticket is at this counter");
        assert!(error_text(&e, Lang::ZhCn).contains("票号"));
        let e = DeskError::HubUnreachable("connection refused".into());
        assert!(error_text(&e, Lang::En).contains("nothing was lost"));
    }
}
