//! `xiaoan demo --simulate`: while the demo serves, its devices keep reporting, so an alarm
//! is raised and cleared on the board and the gate camera reports an intrusion that clears,
//! without a broker and without anyone sending a message.

use super::BIN;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Alarms of `alarm_type` that were raised and then cleared since `since`.
async fn raised_and_cleared(url: &str, alarm_type: &str, since: i64) -> i64 {
    let Ok(db) = xiaoan_store::Db::connect(url).await else {
        return 0;
    };
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT a.id) FROM alarms a JOIN alarm_events e ON e.alarm_id = a.id \
         WHERE a.alarm_type = $1 AND a.raised_at >= $2 AND e.action = 'cleared'",
    )
    .bind(alarm_type.to_string())
    .bind(since)
    .fetch_one(db.pool())
    .await
    .unwrap_or(0);
    db.close().await;
    n
}

#[tokio::test]
async fn the_simulated_demo_raises_and_clears_alarms_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--schools",
            "6",
            "--addr",
            "127.0.0.1:0",
            "--simulate",
            "1",
            "--data",
        ])
        .arg(dir.path())
        .env_remove("XIAOAN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The demo is built before the simulator starts; wait for it to say it serves.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 && !line.contains("http://")
    {
        line.clear();
    }
    assert!(line.contains("http://"), "the demo did not start");
    let since = xiaoan_domain::now_millis();
    let url = format!("sqlite://{}", dir.path().join("xiaoan-demo.db").display());
    // A cycle is 24 one-second ticks: the intrusion at tick 4, cleared at 6; the
    // dormitory's alarm raised at tick 11 and cleared at 12.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut intrusion, mut heat) = (0, 0);
    while Instant::now() < deadline && (intrusion == 0 || heat == 0) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        intrusion = raised_and_cleared(&url, "intrusion", since).await;
        heat = raised_and_cleared(&url, "over_temperature", since).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        intrusion, 1,
        "the gate camera's intrusion, raised and cleared once"
    );
    assert!(heat >= 1, "the dormitory's alarm raised and cleared");
}
