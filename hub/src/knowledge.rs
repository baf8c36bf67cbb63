//! GB/T 7.3: the centre's knowledge base — common questions for consultation and the
//! problems customers usually report per product category (the kiosk's intake
//! pick-list) — and GB/T 5.3.2's one-line description of each service.
//!
//! A centre adds its own entries in `[[knowledge.faq]]` and `[[knowledge.category]]`.

use domain::ServiceType;
use protocol::{CommonProblem, Faq, KnowledgeBase, ProductCategory};

/// GB/T 5.3.2: what the service is, in one plain line (Chinese or English).
pub fn default_description(kind: ServiceType, zh: bool) -> &'static str {
    match (kind, zh) {
        (ServiceType::Consultation, true) => "产品使用、保修政策和收费标准的咨询，当场答复",
        (ServiceType::Consultation, false) => {
            "Questions on using a product, the warranty or our fees, answered on the spot"
        }
        (ServiceType::Complaint, true) => "对产品或服务不满意，我们登记并在承诺时限内处理",
        (ServiceType::Complaint, false) => {
            "Not satisfied with a product or service? We record it and resolve it in the promised time"
        }
        (ServiceType::Installation, true) => "预约上门安装或调试，收费项目事先告知",
        (ServiceType::Installation, false) => {
            "Book installation or set-up at your home; every fee is shown before work starts"
        }
        (ServiceType::Repair, true) => "产品故障检测与维修，维修前出具费用清单",
        (ServiceType::Repair, false) => {
            "Diagnosis and repair of a faulty product, with an itemised quote before repair"
        }
        (ServiceType::ReturnExchange, true) => "符合条件的商品办理退货或换货",
        (ServiceType::ReturnExchange, false) => "Return or exchange an eligible product",
    }
}

fn faq(id: &str, service: Option<ServiceType>, q: (&str, &str), a: (&str, &str)) -> Faq {
    Faq {
        id: id.into(),
        service,
        question_zh: q.0.into(),
        question_en: q.1.into(),
        answer_zh: a.0.into(),
        answer_en: a.1.into(),
    }
}

fn category(code: &str, name: (&str, &str), problems: &[(&str, &str, &str)]) -> ProductCategory {
    ProductCategory {
        code: code.into(),
        name_zh: name.0.into(),
        name_en: name.1.into(),
        problems: problems
            .iter()
            .map(|(c, zh, en)| CommonProblem {
                code: (*c).into(),
                text_zh: (*zh).into(),
                text_en: (*en).into(),
            })
            .collect(),
    }
}

/// The entries every centre starts with.
pub fn builtin() -> KnowledgeBase {
    use ServiceType::*;
    KnowledgeBase {
        faqs: vec![
            faq(
                "warranty_period",
                Some(Consultation),
                ("保修期有多长？", "How long is the warranty?"),
                (
                    "整机保修一年，主要部件保修三年，以购买发票日期为准。",
                    "One year for the whole product and three years for main parts, from the invoice date.",
                ),
            ),
            faq(
                "invoice_lost",
                Some(Consultation),
                (
                    "发票丢了还能保修吗？",
                    "I lost the invoice. Is it still under warranty?",
                ),
                (
                    "可凭产品序列号查询出厂日期，按出厂日期加三个月计算保修期。",
                    "We look up the production date by serial number; the warranty runs from that date plus three months.",
                ),
            ),
            faq(
                "repair_fees",
                Some(Repair),
                (
                    "保修期外维修怎么收费？",
                    "What does a repair cost out of warranty?",
                ),
                (
                    "按公示的收费标准收取检测费、工时费和配件费，维修前会出具费用清单由您确认。",
                    "Inspection, labour and parts at the published rates; you see and confirm an itemised quote before any repair.",
                ),
            ),
            faq(
                "repair_time",
                Some(Repair),
                ("维修需要多长时间？", "How long does a repair take?"),
                (
                    "一般 7 天内修复，需要订购配件时会提前告知预计时间。",
                    "Usually within 7 days; if a part must be ordered we tell you the expected date first.",
                ),
            ),
            faq(
                "return_window",
                Some(ReturnExchange),
                (
                    "多久之内可以退换货？",
                    "How long do I have to return or exchange?",
                ),
                (
                    "自签收之日起 7 天内可无理由退货，15 天内出现性能故障可换货。",
                    "Returns without reason within 7 days of delivery; exchange for a performance fault within 15 days.",
                ),
            ),
            faq(
                "install_booking",
                Some(Installation),
                ("怎样预约上门安装？", "How do I book an installation?"),
                (
                    "在窗口或电话预约时间，技术人员按约定时间上门，收费项目事先告知。",
                    "Book a time at a counter or by phone; the technician comes at the agreed time and every fee is shown first.",
                ),
            ),
            faq(
                "complaint_time",
                Some(Complaint),
                (
                    "投诉多久会有答复？",
                    "When will I hear back about a complaint?",
                ),
                (
                    "受理后 1 小时内答复，并在承诺时限内处理完毕，结果会通知您。",
                    "We answer within an hour of accepting it and resolve it in the promised time; you are told the result.",
                ),
            ),
            faq(
                "data_privacy",
                None,
                ("我的电话号码会怎样使用？", "How is my phone number used?"),
                (
                    "只用于您同意的用途（服务进度通知、回访），不会提供给第三方。",
                    "Only for what you agreed to (progress messages, a follow-up call); it is never given to third parties.",
                ),
            ),
        ],
        categories: vec![
            category(
                "phone",
                ("手机", "Mobile phone"),
                &[
                    ("no_power", "无法开机", "Does not switch on"),
                    (
                        "screen_broken",
                        "屏幕破裂或显示异常",
                        "Cracked or faulty screen",
                    ),
                    (
                        "battery",
                        "电池不耐用或鼓包",
                        "Battery drains fast or swells",
                    ),
                    ("charging", "无法充电", "Does not charge"),
                    (
                        "no_signal",
                        "无信号或通话异常",
                        "No signal or call problems",
                    ),
                ],
            ),
            category(
                "computer",
                ("电脑", "Computer"),
                &[
                    ("no_power", "无法开机", "Does not switch on"),
                    ("slow", "运行缓慢或死机", "Slow or freezes"),
                    ("keyboard", "键盘或触控板失灵", "Keyboard or touchpad fails"),
                    ("screen", "屏幕显示异常", "Screen faults"),
                ],
            ),
            category(
                "air_conditioner",
                ("空调", "Air conditioner"),
                &[
                    ("no_cooling", "不制冷或不制热", "Does not cool or heat"),
                    ("leak", "漏水", "Leaks water"),
                    ("noise", "噪音大", "Loud noise"),
                    ("remote", "遥控器失灵", "Remote control fails"),
                ],
            ),
            category(
                "washing_machine",
                ("洗衣机", "Washing machine"),
                &[
                    ("no_spin", "不脱水", "Does not spin"),
                    ("leak", "漏水", "Leaks water"),
                    ("error_code", "显示故障代码", "Shows an error code"),
                ],
            ),
            category(
                "tv",
                ("电视", "Television"),
                &[
                    ("no_picture", "有声音无图像", "Sound but no picture"),
                    ("no_power", "无法开机", "Does not switch on"),
                    (
                        "lines",
                        "屏幕出现线条或色斑",
                        "Lines or spots on the screen",
                    ),
                ],
            ),
        ],
    }
}

/// The entries matching every word of `query` (case-insensitive, either language);
/// the whole base for an empty query.
pub fn search(kb: &KnowledgeBase, query: &str) -> KnowledgeBase {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return kb.clone();
    }
    let matches = |texts: &[&str]| {
        let hay = texts.join("\n").to_lowercase();
        words.iter().all(|w| hay.contains(w.as_str()))
    };
    KnowledgeBase {
        faqs: kb
            .faqs
            .iter()
            .filter(|f| matches(&[&f.question_zh, &f.question_en, &f.answer_zh, &f.answer_en]))
            .cloned()
            .collect(),
        categories: kb
            .categories
            .iter()
            .filter_map(|c| {
                if matches(&[&c.name_zh, &c.name_en, &c.code]) {
                    return Some(c.clone());
                }
                let problems: Vec<_> = c
                    .problems
                    .iter()
                    .filter(|p| matches(&[&p.text_zh, &p.text_en]))
                    .cloned()
                    .collect();
                (!problems.is_empty()).then(|| ProductCategory {
                    problems,
                    ..c.clone()
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_every_word_in_either_language() {
        // GB/T 7.3: staff find the answer by a word the customer used.
        let kb = builtin();
        let r = search(&kb, "保修");
        assert!(r.faqs.iter().any(|f| f.id == "warranty_period"));
        let r = search(&kb, "lost INVOICE");
        assert_eq!(
            r.faqs.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["invoice_lost"]
        );
        let r = search(&kb, "漏水");
        assert_eq!(r.categories.len(), 2);
        assert!(r.categories.iter().all(|c| c.problems.len() == 1));
        assert_eq!(search(&kb, "  ").faqs.len(), kb.faqs.len());
        assert!(search(&kb, "zzzz").faqs.is_empty());
    }
}
