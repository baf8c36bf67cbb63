//! The report pages over real HTTP against a throwaway PostgreSQL: known rows are put
//! straight into the projection tables, and the figures read back from the HTML (by
//! element id / data attributes) and from the CSV must equal the values worked out by
//! hand below (GB/T 9.1.3, 4.1.1, 4.1.2, 8.4.3, 9.2).

use std::collections::HashMap;

use chrono::{Duration, Utc};
use hq::testkit::TestHq;

const PERIOD: &str = "from=2024-03-01&to=2024-03-10";

/// Three centres (UTC+8, except c2 at UTC) and rows whose figures are worked out in each
/// test. Times are UTC; the period is 1–10 March 2024 in local dates, the previous
/// period 20–29 February.
async fn seeded() -> TestHq {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "北京朝阳").await;
    hq.add_centre("c2", "上海, 浦东").await;
    hq.add_centre("c3", "广州").await;
    let db = hq.client().await;
    db.batch_execute(SEED).await.expect("seed");
    hq
}

const SEED: &str = r#"
UPDATE centres SET utc_offset_minutes = 0 WHERE centre_id = 'c2';

-- GB/T 9.1.3 ratings. c1 this period: 5 4 4 3 2 5; previous period: 5 5 4.
INSERT INTO ratings (centre_id, rating_id, service, score, via, counter, staff_id, at) VALUES
 ('c1', 1, 'repair',       5, 'kiosk', 1,    's1', '2024-03-01 02:00+00'),
 ('c1', 2, 'repair',       4, 'kiosk', 1,    's1', '2024-03-02 03:00+00'),
 ('c1', 3, 'repair',       4, 'kiosk', 2,    's2', '2024-03-02 04:00+00'),
 ('c1', 4, 'consultation', 3, 'kiosk', 2,    's2', '2024-03-05 05:00+00'),
 -- 23:30 on 10 March in Beijing: inside the period.
 ('c1', 5, 'consultation', 2, 'kiosk', NULL, NULL, '2024-03-10 15:30+00'),
 -- 00:30 on 11 March in Beijing: after the period.
 ('c1', 6, 'repair',       1, 'kiosk', 1,    's1', '2024-03-10 16:30+00'),
 -- 23:59 on 29 February in Beijing: the previous period.
 ('c1', 7, 'consultation', 5, 'kiosk', 3,    's3', '2024-02-29 15:59+00'),
 -- 00:30 on 1 March in Beijing: inside the period.
 ('c1', 8, 'consultation', 5, 'kiosk', 3,    's3', '2024-02-29 16:30+00'),
 ('c1', 9, 'consultation', 5, 'kiosk', 3,    's3', '2024-02-25 04:00+00'),
 ('c1', 10, 'repair',      4, 'kiosk', 1,    's1', '2024-02-21 04:00+00'),
 ('c2', 1, 'repair',       5, 'counter', 1,  'x1', '2024-03-03 04:00+00'),
 ('c2', 2, 'repair',       3, 'counter', 1,  'x1', '2024-03-04 04:00+00'),
 -- c3 counter 9: this period 1 1 1 2, previous period 5 5 5 4 (clearly apart).
 ('c3', 1, 'complaint',    1, 'kiosk', 9,    's9', '2024-03-02 04:00+00'),
 ('c3', 2, 'complaint',    1, 'kiosk', 9,    's9', '2024-03-03 04:00+00'),
 ('c3', 3, 'complaint',    1, 'kiosk', 9,    's9', '2024-03-04 04:00+00'),
 ('c3', 4, 'complaint',    2, 'kiosk', 9,    's9', '2024-03-05 04:00+00'),
 ('c3', 5, 'complaint',    5, 'kiosk', 9,    's9', '2024-02-22 04:00+00'),
 ('c3', 6, 'complaint',    5, 'kiosk', 9,    's9', '2024-02-23 04:00+00'),
 ('c3', 7, 'complaint',    5, 'kiosk', 9,    's9', '2024-02-24 04:00+00'),
 ('c3', 8, 'complaint',    4, 'kiosk', 9,    's9', '2024-02-25 04:00+00');

-- GB/T 4.1.1 tickets. c1 this period: waits 60 120 180 240 600 s, service 300 600 900 120 s.
INSERT INTO tickets (centre_id, ticket_id, number, service, class, channel, issued_at, called_at,
                     counter, staff_id, service_secs, state, updated_at) VALUES
 ('c1', 1, 'D001', 'repair',       'normal', 'on_site', '2024-03-01 01:00+00', '2024-03-01 01:01+00', 1, 's1', 300, 'finished', now()),
 ('c1', 2, 'D002', 'repair',       'normal', 'on_site', '2024-03-02 01:00+00', '2024-03-02 01:02+00', 1, 's1', 600, 'finished', now()),
 ('c1', 3, 'D003', 'repair',       'normal', 'on_site', '2024-03-03 01:00+00', '2024-03-03 01:03+00', 2, 's2', 900, 'finished', now()),
 ('c1', 4, 'A001', 'consultation', 'normal', 'on_site', '2024-03-04 01:00+00', '2024-03-04 01:04+00', 2, 's2', 120, 'finished', now()),
 ('c1', 5, 'A002', 'consultation', 'normal', 'on_site', '2024-03-05 01:00+00', '2024-03-05 01:10+00', 1, 's1', NULL, 'no_show', now()),
 ('c1', 6, 'A003', 'consultation', 'normal', 'on_site', '2024-03-06 01:00+00', NULL, NULL, NULL, NULL, 'waiting', now()),
 ('c1', 7, 'D004', 'repair',       'normal', 'on_site', '2024-02-25 01:00+00', '2024-02-25 01:00:30+00', 1, 's1', 200, 'finished', now()),
 ('c1', 8, 'D005', 'repair',       'normal', 'on_site', '2024-02-26 01:00+00', '2024-02-26 01:01:30+00', 1, 's1', 400, 'finished', now()),
 ('c2', 1, 'D001', 'repair',       'normal', 'on_site', '2024-03-03 01:00+00', '2024-03-03 01:16:40+00', 1, 'x1', 50, 'finished', now());

-- GB/T 4.1.2 requests of c1.
INSERT INTO requests (centre_id, request_id, service, channel, ticket_id, stage, created_at,
                      reply_due, resolve_due, answered_at, resolved_at, updated_at) VALUES
 ('c1', 1, 'repair',       'on_site', 1,    'archiving',  '2024-03-01 01:00+00', '2024-03-01 02:00+00', '2024-03-04 01:00+00', '2024-03-01 01:30+00', '2024-03-03 01:00+00', now()),
 ('c1', 2, 'repair',       'on_site', 2,    'archiving',  '2024-03-02 01:00+00', '2024-03-02 02:00+00', '2024-03-05 01:00+00', '2024-03-02 03:00+00', '2024-03-06 01:00+00', now()),
 ('c1', 3, 'consultation', 'on_site', 4,    'processing', '2024-03-03 01:00+00', NULL,                  '2024-03-04 01:00+00', NULL,                  NULL,                  now()),
 ('c1', 4, 'consultation', 'phone',   NULL, 'processing', '2024-03-05 01:00+00', NULL,                  '2099-01-01 00:00+00', NULL,                  NULL,                  now()),
 ('c1', 5, 'complaint',    'phone',   NULL, 'acceptance', '2024-03-06 01:00+00', '2024-03-06 05:00+00', NULL,                  NULL,                  NULL,                  now()),
 ('c1', 6, 'repair',       'on_site', 5,    'archiving',  '2024-03-10 15:00+00', NULL,                  '2024-03-12 01:00+00', NULL,                  '2024-03-11 01:00+00', now()),
 ('c1', 7, 'repair',       'on_site', 7,    'archiving',  '2024-02-25 01:00+00', NULL,                  '2024-02-28 01:00+00', NULL,                  '2024-02-27 01:00+00', now()),
 ('c1', 8, 'repair',       'on_site', 8,    'archiving',  '2024-02-26 01:00+00', NULL,                  '2024-02-27 01:00+00', NULL,                  '2024-02-28 01:00+00', now());

-- GB/T 8.4.3 refunds.
INSERT INTO refunds (centre_id, refund_id, request_id, amount_fen, due_date, recorded_at, paid_at) VALUES
 -- 23:00 on 5 March in Beijing: on time.
 ('c1', 1, 1, 10000, '2024-03-05', '2024-02-28 01:00+00', '2024-03-05 15:00+00'),
 -- 01:00 on 6 March in Beijing (still the 5th in UTC): one day late.
 ('c1', 2, 2, 20000, '2024-03-05', '2024-02-28 01:00+00', '2024-03-05 17:00+00'),
 ('c1', 3, 3, 30050, '2024-03-08', '2024-03-01 01:00+00', NULL),
 ('c1', 6, 1,  5000, '2024-02-25', '2024-02-18 01:00+00', NULL),
 ('c1', 7, 7,  7000, '2024-02-26', '2024-02-19 01:00+00', '2024-02-26 03:00+00'),
 -- c2 keeps UTC: 17:00 on 5 March is still the 5th there: on time.
 ('c2', 8, 99, 1000, '2024-03-05', '2024-02-28 01:00+00', '2024-03-05 17:00+00');
"#;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(hq: &TestHq, path: &str) -> (u16, String, String) {
    let r = client()
        .get(format!("{}{}", hq.url, path))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

async fn page(hq: &TestHq, path: &str) -> String {
    let (status, ct, body) = get(hq, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert!(ct.starts_with("text/html"), "{path}: {ct}");
    body
}

/// The `data-value` of the element with this id (the empty string when it has none).
fn fig(html: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\"");
    let at = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no element #{id}"));
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[at..tag_end];
    let v = tag
        .split("data-value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("#{id} has no data-value"));
    v[..v.find('"').unwrap()].to_owned()
}

fn fnum(html: &str, id: &str) -> f64 {
    let v = fig(html, id);
    v.parse()
        .unwrap_or_else(|_| panic!("#{id} is not a number: {v:?}"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-5, "{what}: got {a}, expected {b}");
}

/// The `data-value` of column `col` in breakdown row `dim`/`key`.
fn cell(html: &str, table: &str, key: &str, col: &str) -> String {
    let t = html
        .find(&format!("id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}"));
    let t_end = t + html[t..].find("</table>").unwrap();
    let table_html = &html[t..t_end];
    let row = table_html
        .find(&format!("data-key=\"{key}\">"))
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    let row_html = &table_html[row..row + table_html[row..].find("</tr>").unwrap()];
    let c = row_html
        .split(&format!("data-col=\"{col}\" data-value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no column {col} in {table}/{key}"));
    c[..c.find('"').unwrap()].to_owned()
}

/// A small RFC 4180 reader: rows of fields.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    // Every export starts with a UTF-8 byte-order mark (for Excel).
    let s = s
        .strip_prefix('\u{feff}')
        .expect("a CSV export starts with a BOM");
    assert!(s.ends_with("\r\n"), "CSV must end with a line end");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(s.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// CSV rows as maps by header.
async fn csv(hq: &TestHq, path: &str) -> Vec<HashMap<String, String>> {
    let (status, ct, body) = get(hq, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(ct, "text/csv; charset=utf-8", "{path}");
    let rows = parse_csv(&body);
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{path}: ragged row {r:?}");
            header.iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect()
}

fn find<'a>(
    rows: &'a [HashMap<String, String>],
    period: &str,
    group: &str,
    key: &str,
) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["period"] == period && r["group"] == group && r["key"] == key)
        .unwrap_or_else(|| panic!("no CSV row {period}/{group}/{key}"))
}

fn num(r: &HashMap<String, String>, col: &str) -> f64 {
    r[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} is not a number: {:?}", r[col]))
}

#[tokio::test]
async fn satisfaction_figures_interval_and_previous_period() {
    // GB/T 9.1.3
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports/satisfaction?centre=c1&{PERIOD}")).await;
    // This period: 5 4 4 3 2 5 (the 1 at 00:30 on 11 March local is outside).
    assert_eq!(fig(&h, "sat-n"), "6");
    close(fnum(&h, "sat-mean"), 23.0 / 6.0, "mean");
    // s = 1.169045, t(0.975, 5) = 2.570582: 3.833333 ± 1.226838.
    close(fnum(&h, "sat-ci-low"), 2.606_496, "CI low");
    close(fnum(&h, "sat-ci-high"), 5.060_171, "CI high");
    for (score, n) in [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2)] {
        assert_eq!(fig(&h, &format!("sat-dist-{score}")), n.to_string());
    }
    close(fnum(&h, "sat-share-4"), 2.0 / 6.0, "share of 4s");
    // Previous period: 5 5 4 (the 5 at 23:59 on 29 February local belongs here);
    // s = 0.577350, t(2) = 4.302653: 4.666667 ± 1.434218.
    assert_eq!(fig(&h, "sat-prev-n"), "3");
    close(fnum(&h, "sat-prev-mean"), 14.0 / 3.0, "previous mean");
    close(fnum(&h, "sat-prev-ci-low"), 3.232_449, "previous CI low");
    close(fnum(&h, "sat-prev-ci-high"), 6.100_884, "previous CI high");
    close(fnum(&h, "sat-diff"), 23.0 / 6.0 - 14.0 / 3.0, "difference");
    assert_eq!(fig(&h, "sat-overlap"), "true");
    assert!(h.contains("id=\"sat-method\" data-method=\"t\""));
    // The chart draws the same distribution and the daily means.
    assert!(h.contains("id=\"chart-sat-dist\"") && h.contains("<svg"));
    assert!(h.contains("data-label=\"4\" data-value=\"2\""));
    assert!(h.contains("data-date=\"2024-03-02\" data-value=\"4\""));
    assert!(h.contains("data-date=\"2024-03-01\" data-value=\"5\""));
    assert!(!h.contains("<script"), "no scripts on report pages");
    // Breakdowns.
    assert_eq!(cell(&h, "sat-by-service", "repair", "n"), "3");
    close(
        cell(&h, "sat-by-service", "repair", "mean")
            .parse()
            .unwrap(),
        13.0 / 3.0,
        "repair mean",
    );
    assert_eq!(cell(&h, "sat-by-service", "consultation", "n"), "3");
    close(
        cell(&h, "sat-by-counter", "1", "mean").parse().unwrap(),
        4.5,
        "counter 1",
    );
    close(
        cell(&h, "sat-by-counter", "2", "mean").parse().unwrap(),
        3.5,
        "counter 2",
    );
    assert_eq!(cell(&h, "sat-by-counter", "", "n"), "1", "the kiosk rating");
    assert_eq!(cell(&h, "sat-by-staff", "s3", "n"), "1");

    // Intervals that do not overlap: c3 went from 5 5 5 4 to 1 1 1 2.
    let h = page(&hq, &format!("/reports/satisfaction?centre=c3&{PERIOD}")).await;
    close(fnum(&h, "sat-mean"), 1.25, "c3 mean");
    // t(3) = 3.182446, s = 0.5: ± 0.795612.
    close(fnum(&h, "sat-ci-low"), 0.454_388, "c3 CI low");
    close(fnum(&h, "sat-ci-high"), 2.045_612, "c3 CI high");
    close(fnum(&h, "sat-prev-ci-low"), 3.954_388, "c3 previous CI low");
    close(fnum(&h, "sat-diff"), -3.5, "c3 difference");
    assert_eq!(fig(&h, "sat-overlap"), "false");

    // All centres: 12 ratings, 36 points.
    let h = page(&hq, &format!("/reports/satisfaction?{PERIOD}")).await;
    assert_eq!(fig(&h, "sat-n"), "12");
    close(fnum(&h, "sat-mean"), 3.0, "all mean");
    // s = 1.595448, t(11) = 2.200985.
    close(fnum(&h, "sat-ci-low"), 1.986_301, "all CI low");
    assert_eq!(cell(&h, "sat-by-centre", "c2", "n"), "2");
    assert_eq!(cell(&h, "sat-by-centre", "c1", "n"), "6");
}

#[tokio::test]
async fn satisfaction_filters_and_too_few_ratings() {
    // GB/T 9.1.3: per service, counter and staff.
    let hq = seeded().await;
    let h = page(
        &hq,
        &format!("/reports/satisfaction?centre=c1&counter=1&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "sat-n"), "2");
    close(fnum(&h, "sat-mean"), 4.5, "counter 1");
    let h = page(
        &hq,
        &format!("/reports/satisfaction?centre=c1&staff=s2&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "sat-n"), "2");
    close(fnum(&h, "sat-mean"), 3.5, "staff s2");
    let h = page(
        &hq,
        &format!("/reports/satisfaction?centre=c1&service=repair&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "sat-n"), "3");
    close(fnum(&h, "sat-mean"), 13.0 / 3.0, "repair");
    // One rating: no interval, said in words.
    let h = page(
        &hq,
        &format!("/reports/satisfaction?centre=c1&service=consultation&counter=2&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "sat-n"), "1");
    assert_eq!(fig(&h, "sat-ci-low"), "");
    assert!(h.contains("Not enough ratings") && h.contains("评价不足"));
    // Input that looks like SQL is only a value that matches nothing.
    let h = page(
        &hq,
        &format!("/reports/satisfaction?staff=%27%20OR%201%3D1%20--&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "sat-n"), "0");
}

#[tokio::test]
async fn satisfaction_csv_matches_the_page() {
    // GB/T 9.1.3: the written report, exportable.
    let hq = seeded().await;
    let rows = csv(
        &hq,
        &format!("/reports/satisfaction.csv?centre=c1&{PERIOD}"),
    )
    .await;
    let cur = find(&rows, "current", "all", "");
    assert_eq!(cur["n"], "6");
    assert_eq!(cur["from"], "2024-03-01");
    assert_eq!(cur["to"], "2024-03-10");
    close(num(cur, "mean"), 23.0 / 6.0, "csv mean");
    close(num(cur, "ci95_low"), 2.606_496, "csv CI low");
    close(num(cur, "ci95_high"), 5.060_171, "csv CI high");
    assert_eq!(
        [
            &cur["score_1"],
            &cur["score_2"],
            &cur["score_3"],
            &cur["score_4"],
            &cur["score_5"]
        ],
        ["0", "1", "1", "2", "2"]
    );
    close(
        num(cur, "diff_vs_previous"),
        23.0 / 6.0 - 14.0 / 3.0,
        "csv diff",
    );
    assert_eq!(cur["ci_overlap_previous"], "true");
    let prev = find(&rows, "previous", "all", "");
    assert_eq!(prev["n"], "3");
    assert_eq!(prev["from"], "2024-02-20");
    assert_eq!(prev["to"], "2024-02-29");
    assert_eq!(find(&rows, "current", "counter", "1")["n"], "2");
    assert_eq!(find(&rows, "current", "staff", "s2")["mean"], "3.5");
    // ?format=csv on the page's own address gives the same export.
    let (_, ct, a) = get(
        &hq,
        &format!("/reports/satisfaction?format=csv&centre=c1&{PERIOD}"),
    )
    .await;
    let (_, _, b) = get(
        &hq,
        &format!("/reports/satisfaction.csv?centre=c1&{PERIOD}"),
    )
    .await;
    assert_eq!(ct, "text/csv; charset=utf-8");
    assert_eq!(a, b);
}

#[tokio::test]
async fn response_and_service_time_quantiles() {
    // GB/T 4.1.1: issued → first called; percentile_cont interpolates.
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports/response?centre=c1&{PERIOD}")).await;
    // Waits 60 120 180 240 600 (the uncalled ticket is left out).
    assert_eq!(fig(&h, "resp-wait-n"), "5");
    close(fnum(&h, "resp-wait-p50"), 180.0, "wait p50");
    close(fnum(&h, "resp-wait-p90"), 456.0, "wait p90 = 240 + 0.6·360");
    close(fnum(&h, "resp-wait-p95"), 528.0, "wait p95 = 240 + 0.8·360");
    // Service times 120 300 600 900.
    assert_eq!(fig(&h, "resp-svc-n"), "4");
    close(fnum(&h, "resp-svc-p50"), 450.0, "service p50");
    close(
        fnum(&h, "resp-svc-p90"),
        810.0,
        "service p90 = 600 + 0.7·300",
    );
    close(fnum(&h, "resp-svc-p95"), 855.0, "service p95");
    // Previous period: waits 30 90, service 200 400.
    close(fnum(&h, "resp-prev-wait-p90"), 84.0, "previous wait p90");
    close(fnum(&h, "resp-prev-svc-p90"), 380.0, "previous service p90");
    assert!(h.contains("id=\"chart-resp-wait\""));
    assert!(h.contains("data-label=\"p90\" data-value=\"456\""));
    assert!(h.contains("data-date=\"2024-03-05\" data-value=\"600\""));
    // Counter 1: waits 60 120 600.
    close(
        cell(&h, "resp-by-counter", "1", "wait_p90")
            .parse()
            .unwrap(),
        504.0,
        "counter 1 p90",
    );
    close(
        cell(&h, "resp-by-counter", "2", "wait_p50")
            .parse()
            .unwrap(),
        210.0,
        "counter 2 p50",
    );
    close(
        cell(&h, "resp-by-staff", "s2", "service_p50")
            .parse()
            .unwrap(),
        510.0,
        "s2 service p50",
    );
    // Filters.
    let h = page(
        &hq,
        &format!("/reports/response?centre=c1&service=repair&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "resp-wait-n"), "3");
    close(fnum(&h, "resp-wait-p50"), 120.0, "repair p50");
    let h = page(&hq, &format!("/reports/response?{PERIOD}")).await;
    assert_eq!(fig(&h, "resp-wait-n"), "6");
    close(
        cell(&h, "resp-by-centre", "c2", "wait_p50")
            .parse()
            .unwrap(),
        1000.0,
        "c2",
    );
    // CSV.
    let rows = csv(&hq, &format!("/reports/response.csv?centre=c1&{PERIOD}")).await;
    let cur = find(&rows, "current", "all", "");
    assert_eq!(cur["wait_n"], "5");
    close(num(cur, "wait_p90_secs"), 456.0, "csv wait p90");
    close(num(cur, "service_p95_secs"), 855.0, "csv service p95");
    close(
        num(find(&rows, "previous", "all", ""), "wait_p90_secs"),
        84.0,
        "csv previous",
    );
}

#[tokio::test]
async fn requests_within_the_promised_time() {
    // GB/T 4.1.2: resolved by resolve_due; open past due is late; not yet due is left out.
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports/requests?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "req-total"), "6");
    assert_eq!(fig(&h, "req-resolve-on-time"), "2");
    assert_eq!(fig(&h, "req-resolve-late"), "2");
    assert_eq!(fig(&h, "req-resolve-pending"), "1");
    close(fnum(&h, "req-resolve-share"), 0.5, "resolve share");
    // GB/T 5.5.2: replies where a reply deadline was set: 1 on time, 1 late, 1 never answered.
    assert_eq!(fig(&h, "req-reply-on-time"), "1");
    assert_eq!(fig(&h, "req-reply-late"), "2");
    close(fnum(&h, "req-reply-share"), 1.0 / 3.0, "reply share");
    close(fnum(&h, "req-prev-resolve-share"), 0.5, "previous share");
    // Breakdowns; counter and staff come from the request's ticket.
    close(
        cell(&h, "req-by-service", "repair", "share")
            .parse()
            .unwrap(),
        2.0 / 3.0,
        "repair",
    );
    assert_eq!(cell(&h, "req-by-service", "consultation", "share"), "0");
    assert_eq!(cell(&h, "req-by-service", "complaint", "share"), "");
    close(
        cell(&h, "req-by-counter", "1", "share").parse().unwrap(),
        2.0 / 3.0,
        "counter 1",
    );
    let h = page(
        &hq,
        &format!("/reports/requests?centre=c1&counter=1&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "req-total"), "3");
    close(
        fnum(&h, "req-resolve-share"),
        2.0 / 3.0,
        "filtered by counter",
    );
    let h = page(
        &hq,
        &format!("/reports/requests?centre=c1&staff=s2&{PERIOD}"),
    )
    .await;
    assert_eq!(fig(&h, "req-total"), "1");
    assert_eq!(fig(&h, "req-resolve-share"), "0");
    let rows = csv(&hq, &format!("/reports/requests.csv?centre=c1&{PERIOD}")).await;
    let cur = find(&rows, "current", "all", "");
    assert_eq!(cur["requests"], "6");
    assert_eq!(cur["resolve_share"], "0.5");
    close(num(cur, "reply_share"), 1.0 / 3.0, "csv reply share");
    assert_eq!(find(&rows, "previous", "all", "")["resolve_late"], "1");
}

#[tokio::test]
async fn refunds_within_five_working_days_in_local_dates() {
    // GB/T 8.4.3
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports/refunds?centre=c1&{PERIOD}")).await;
    // Refund 1 paid 23:00 local on its due date: on time; refund 2 paid 01:00 local the
    // day after (the same UTC date): late; refund 3 unpaid past due: late.
    assert_eq!(fig(&h, "ref-total"), "3");
    assert_eq!(fig(&h, "ref-on-time"), "1");
    assert_eq!(fig(&h, "ref-late"), "2");
    assert_eq!(fig(&h, "ref-pending"), "0");
    close(fnum(&h, "ref-share"), 1.0 / 3.0, "refund share");
    assert_eq!(fig(&h, "ref-unpaid-late"), "1");
    assert_eq!(fig(&h, "ref-unpaid-late-amount"), "30050");
    close(fnum(&h, "ref-prev-share"), 0.5, "previous refund share");
    // The overdue list: still unpaid first (also refund 6, due before the period), then
    // paid late.
    let ids: Vec<&str> = h
        .split("data-refund-id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(ids, ["6", "3", "2"]);
    assert!(h.contains("data-refund-id=\"2\" data-paid=\"true\" data-days-late=\"1\""));
    assert_eq!(cell(&h, "ref-by-service", "repair", "share"), "0.5");
    // c2 keeps UTC: 17:00 UTC is still the due date there.
    let h = page(&hq, &format!("/reports/refunds?centre=c2&{PERIOD}")).await;
    assert_eq!(fig(&h, "ref-on-time"), "1");
    assert_eq!(fig(&h, "ref-share"), "1");
    // CSV: the figures and the list.
    let rows = csv(&hq, &format!("/reports/refunds.csv?centre=c1&{PERIOD}")).await;
    let cur = find(&rows, "current", "all", "");
    assert_eq!((cur["on_time"].as_str(), cur["late"].as_str()), ("1", "2"));
    let list = csv(
        &hq,
        &format!("/reports/refunds.csv?centre=c1&part=overdue&{PERIOD}"),
    )
    .await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["refund_id"], "2");
    assert_eq!(list[2]["paid_date"], "2024-03-06");
    assert_eq!(list[1]["paid_date"], "");
}

#[tokio::test]
async fn a_refund_not_yet_due_is_pending() {
    // GB/T 8.4.3: unpaid on or before its due date is not late yet.
    let hq = seeded().await;
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    let db = hq.client().await;
    db.execute(
        "INSERT INTO refunds (centre_id, refund_id, request_id, amount_fen, due_date, recorded_at) \
         VALUES ('c1', 50, 1, 100, $1, now())",
        &[&(today + Duration::days(3))],
    )
    .await
    .unwrap();
    let h = page(
        &hq,
        &format!(
            "/reports/refunds?centre=c1&from={}&to={}",
            today - Duration::days(1),
            today + Duration::days(10)
        ),
    )
    .await;
    assert_eq!(fig(&h, "ref-total"), "1");
    assert_eq!(fig(&h, "ref-pending"), "1");
    assert_eq!(fig(&h, "ref-share"), "");
}

async fn post_target(hq: &TestHq, form: &[(&str, &str)]) -> reqwest::Response {
    let body: String = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace(' ', "+")
                    .replace(',', "%2C")
                    .replace('"', "%22")
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    client()
        .post(format!("{}/reports/targets", hq.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn targets_set_by_form_are_shown_met_or_not() {
    // GB/T 9.2
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports/satisfaction?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "sat-mean-target-met"), "none");

    let r = post_target(
        &hq,
        &[
            ("metric", "satisfaction_mean"),
            ("centre", "c1"),
            ("service", "*"),
            ("valid_from", "2024-01-01"),
            ("target", "4"),
            ("note", "Q1 goal, \"stretch\""),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "/reports/targets?saved=1"
    );
    let list = page(&hq, "/reports/targets?saved=1").await;
    assert!(list.contains("id=\"saved\""));
    assert!(list.contains("data-metric=\"satisfaction_mean\" data-centre=\"c1\" data-service=\"*\" data-valid-from=\"2024-01-01\" data-value=\"4\""));

    // 3.83 against 4: not met.
    let h = page(&hq, &format!("/reports/satisfaction?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "sat-mean-target"), "4");
    assert_eq!(fig(&h, "sat-mean-target-met"), "not_met");
    // Setting it again replaces it: 3.5 is met.
    let r = post_target(
        &hq,
        &[
            ("metric", "satisfaction_mean"),
            ("centre", "c1"),
            ("service", "*"),
            ("valid_from", "2024-01-01"),
            ("target", "3.5"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let h = page(&hq, &format!("/reports/satisfaction?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "sat-mean-target"), "3.5");
    assert_eq!(fig(&h, "sat-mean-target-met"), "met");
    // A target valid only after the period does not apply to it.
    post_target(
        &hq,
        &[
            ("metric", "satisfaction_mean"),
            ("centre", "c1"),
            ("service", "*"),
            ("valid_from", "2024-04-01"),
            ("target", "5"),
        ],
    )
    .await;
    let h = page(&hq, &format!("/reports/satisfaction?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "sat-mean-target"), "3.5");

    // Times: lower is better. 456 s against 500 s is met; 810 s against 800 s is not.
    for (metric, value) in [("response_p90_secs", "500"), ("service_p90_secs", "800")] {
        let r = post_target(
            &hq,
            &[
                ("metric", metric),
                ("centre", "*"),
                ("service", "*"),
                ("valid_from", "2024-01-01"),
                ("target", value),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
    }
    let h = page(&hq, &format!("/reports/response?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "resp-wait-p90-target-met"), "met");
    assert_eq!(fig(&h, "resp-svc-p90-target-met"), "not_met");

    // Shares; a per-service target applies to that service's row.
    for (metric, service, value) in [
        ("within_promise_share", "*", "0.6"),
        ("within_promise_share", "repair", "0.6"),
        ("refunds_on_time_share", "*", "0.3"),
    ] {
        let r = post_target(
            &hq,
            &[
                ("metric", metric),
                ("centre", "*"),
                ("service", service),
                ("valid_from", "2024-01-01"),
                ("target", value),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
    }
    let h = page(&hq, &format!("/reports/requests?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "req-resolve-share-target-met"), "not_met");
    assert_eq!(cell(&h, "req-by-service", "repair", "met"), "met");
    assert_eq!(cell(&h, "req-by-service", "consultation", "met"), "not_met");
    let h = page(&hq, &format!("/reports/refunds?centre=c1&{PERIOD}")).await;
    assert_eq!(fig(&h, "ref-share-target"), "0.3");
    assert_eq!(fig(&h, "ref-share-target-met"), "met");

    // The overview judges each centre against its own target.
    let h = page(&hq, &format!("/reports?{PERIOD}")).await;
    let row = |centre: &str| {
        let at = h.find(&format!("<tr data-centre=\"{centre}\">")).unwrap();
        h[at..at + h[at..].find("</tr>").unwrap()].to_owned()
    };
    assert!(row("c1").contains(
        "data-col=\"sat_mean\" data-value=\"3.833333\" data-target=\"3.5\" data-met=\"met\""
    ));
    assert!(
        row("c3").contains(
            "data-col=\"sat_mean\" data-value=\"1.25\" data-target=\"\" data-met=\"none\""
        )
    );
    assert!(
        row("c1").contains(
            "data-col=\"resp_p90\" data-value=\"456\" data-target=\"500\" data-met=\"met\""
        )
    );

    // The CSV of targets keeps the note's comma and quotes.
    let rows = csv(&hq, "/reports/targets.csv").await;
    let sat: Vec<_> = rows
        .iter()
        .filter(|r| r["metric"] == "satisfaction_mean")
        .collect();
    assert_eq!(sat.len(), 2);
    assert!(rows.iter().all(|r| !r["set_at"].is_empty()));
    let rows = csv(
        &hq,
        &format!("/reports/satisfaction.csv?centre=c1&{PERIOD}"),
    )
    .await;
    let cur = find(&rows, "current", "all", "");
    assert_eq!(
        (cur["target"].as_str(), cur["target_met"].as_str()),
        ("3.5", "met")
    );
}

#[tokio::test]
async fn target_notes_survive_csv_quoting() {
    // GB/T 9.2 targets, exported.
    let hq = seeded().await;
    let r = post_target(
        &hq,
        &[
            ("metric", "refunds_on_time_share"),
            ("centre", "c2"),
            ("service", "repair"),
            ("valid_from", "2024-02-01"),
            ("target", "0.95"),
            ("note", "Q1 goal, \"stretch\""),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let rows = csv(&hq, "/reports/targets.csv").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["note"], "Q1 goal, \"stretch\"");
    assert_eq!(rows[0]["target"], "0.95");
    assert_eq!(rows[0]["service"], "repair");
    assert_eq!(rows[0]["centre"], "c2");
}

#[tokio::test]
async fn the_overview_links_every_centre() {
    let hq = seeded().await;
    let h = page(&hq, &format!("/reports?{PERIOD}")).await;
    for c in ["*", "c1", "c2", "c3"] {
        assert!(h.contains(&format!("<tr data-centre=\"{c}\">")), "{c}");
    }
    assert!(
        h.contains("href=\"/reports/refunds?centre=c1&amp;from=2024-03-01&amp;to=2024-03-10\"")
    );
    let at = h.find("<tr data-centre=\"c1\">").unwrap();
    let row = &h[at..at + h[at..].find("</tr>").unwrap()];
    assert!(row.contains("data-col=\"sat_n\" data-value=\"6\""));
    assert!(row.contains("data-col=\"within_promise\" data-value=\"0.5\""));
    assert!(row.contains("data-col=\"refunds_unpaid_late\" data-value=\"1\""));
    // Centre names are escaped, and the CSV quotes nothing it need not.
    assert!(h.contains("c2 上海, 浦东"));
    let rows = csv(&hq, &format!("/reports.csv?{PERIOD}")).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["centre"], "*");
    assert_eq!(rows[0]["ratings"], "12");
    // With no period given, the last 30 days ending today.
    let h = page(&hq, "/reports").await;
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    assert!(h.contains(&format!(
        "id=\"period\" data-from=\"{}\" data-to=\"{today}\"",
        today - Duration::days(29)
    )));
}

#[tokio::test]
async fn bad_input_gets_a_bilingual_400() {
    let hq = seeded().await;
    for (path, zh, en) in [
        (
            "/reports/satisfaction?from=2024-13-01",
            "日期",
            "is not valid",
        ),
        ("/reports/response?from=yesterday", "日期", "YYYY-MM-DD"),
        (
            "/reports/requests?service=plumbing",
            "未知的服务类型",
            "Unknown service",
        ),
        (
            "/reports/refunds?from=2024-03-10&to=2024-03-01",
            "晚于",
            "is after",
        ),
        ("/reports/satisfaction?counter=abc", "窗口号", "counter"),
        ("/reports?centre=nowhere", "服务中心", "no centre"),
        ("/reports/satisfaction?format=xml", "格式", "Unknown format"),
        (
            "/reports/refunds.csv?part=everything",
            "导出部分",
            "Unknown part",
        ),
        (
            "/reports/satisfaction?from=2000-01-01&to=2024-01-01",
            "过长",
            "too long",
        ),
    ] {
        let (status, ct, body) = get(&hq, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(ct.starts_with("text/html"), "{path}");
        assert!(body.contains(zh) && body.contains(en), "{path}: {body}");
        assert!(body.find(zh) < body.find(en), "Chinese first: {path}");
    }
    for (form, en) in [
        (
            "metric=speed&centre=*&service=*&valid_from=2024-01-01&target=1",
            "Unknown metric",
        ),
        (
            "metric=satisfaction_mean&centre=*&service=*&valid_from=2024-01-01&target=7",
            "between 1 and 5",
        ),
        (
            "metric=refunds_on_time_share&centre=*&service=*&valid_from=2024-01-01&target=95",
            "between 0 and 1",
        ),
        (
            "metric=satisfaction_mean&centre=nowhere&service=*&valid_from=2024-01-01&target=4",
            "no centre",
        ),
        (
            "metric=satisfaction_mean&centre=*&service=plumbing&valid_from=2024-01-01&target=4",
            "Unknown service",
        ),
        (
            "metric=satisfaction_mean&centre=*&service=*&valid_from=soon&target=4",
            "valid-from",
        ),
    ] {
        let r = client()
            .post(format!("{}/reports/targets", hq.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{form}");
        let body = r.text().await.unwrap();
        assert!(body.contains(en), "{form}: {body}");
    }
    // Nothing was stored by the refused forms.
    let rows = csv(&hq, "/reports/targets.csv").await;
    assert!(rows.is_empty());
}

/// GB/T 5.6.2: with report readers configured, every report page, its CSV and the
/// targets form need a reader's name and password (HTTP Basic, which a browser asks for
/// by itself); ingest's health and the public status pages do not.
#[tokio::test]
async fn reports_need_a_readers_login_when_readers_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let readers = dir.path().join("readers");
    let hash = {
        use argon2::PasswordHasher;
        let salt = argon2::password_hash::SaltString::encode_b64(b"fixed-test-salt!").unwrap();
        argon2::Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string()
    };
    std::fs::write(&readers, format!("# report readers\nli.na:{hash}\n")).unwrap();
    let hq = TestHq::start_with_readers(readers).await;
    let client = reqwest::Client::new();
    for path in [
        "/reports",
        "/reports/satisfaction",
        "/reports.csv",
        "/reports/targets",
    ] {
        let url = format!("{}{path}", hq.url);
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a login");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
        let r = client
            .get(&url)
            .basic_auth("li.na", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong password");
        let r = client
            .get(&url)
            .basic_auth("nobody", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} for an unknown reader");
        let r = client
            .get(&url)
            .basic_auth("li.na", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} for the reader");
    }
    // Setting a target is a report action too.
    let r = client
        .post(format!("{}/reports/targets", hq.url))
        .form(&[("metric", "satisfaction_mean"), ("value", "4.5")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/health", hq.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "health stays open");
}
