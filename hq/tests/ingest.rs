//! Ingest over real HTTP into a real throwaway PostgreSQL.

use hq::testkit::TestHq;

#[tokio::test]
async fn starts_and_reports_health() {
    let hq = TestHq::start().await;
    let body: serde_json::Value = reqwest::get(format!("{}/health", hq.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["db"], "ok", "{body}");
    assert_eq!(body["centres"], 0);
}
