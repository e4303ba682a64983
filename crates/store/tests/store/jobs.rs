//! The job queue: claims under a lease, take-over when a lease lapses, retries with
//! backoff until dead, periodic work enqueued once, and the administrator's retry and
//! cancel; claims from two workers at once never share a job.

use serde_json::json;
use std::collections::HashSet;
use xiaoan_store::jobs::{self, NewJob, Retry};
use xiaoan_store::{Db, StoreError};
use xiaoan_testkit::both_backends;

const T0: i64 = 1_800_000_000_000;
const LEASE: i64 = 30_000;

fn job(kind: &str, run_at: i64, key: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.into(),
        payload: json!({"hazard_id": 7}),
        dedupe_key: key.map(str::to_string),
        run_at,
        max_attempts: 3,
    }
}

async fn the_queue_leases_retries_and_takes_over(db: &Db) {
    let a = jobs::enqueue(db, &job("remind", T0, None), T0)
        .await
        .unwrap()
        .unwrap();
    let b = jobs::enqueue(db, &job("remind", T0 + 10, None), T0)
        .await
        .unwrap()
        .unwrap();
    // Not yet due: nothing to claim.
    assert!(
        jobs::claim(db, "node-1", T0 - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Oldest due first, one per claim of one; each claim is an attempt.
    let got = jobs::claim(db, "node-1", T0 + 20, LEASE, 1).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(
        (got[0].attempts, got[0].payload.as_str()),
        (1, r#"{"hazard_id":7}"#)
    );
    let got = jobs::claim(db, "node-2", T0 + 20, LEASE, 5).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b]);
    assert!(
        jobs::claim(db, "node-2", T0 + 21, LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );

    // node-1 keeps its lease alive, then finishes.
    assert!(
        jobs::extend(db, a, "node-1", T0 + 20 + 2 * LEASE, T0 + 25)
            .await
            .unwrap()
    );
    // At the end of b's lease (not yet lapsed) and inside a's extended one: nothing due.
    assert!(
        jobs::claim(db, "node-2", T0 + 20 + LEASE, LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(jobs::finish(db, a, "node-1", T0 + 30).await.unwrap());
    assert_eq!(jobs::get(db, a).await.unwrap().unwrap().state, "done");

    // node-2 dies holding b: when the lease lapses node-3 takes it; node-2's late word
    // changes nothing.
    let lapsed = T0 + 20 + 3 * LEASE;
    let got = jobs::claim(db, "node-3", lapsed, LEASE, 5).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b]);
    assert_eq!(got[0].attempts, 2);
    assert!(!jobs::finish(db, b, "node-2", lapsed + 1).await.unwrap());
    assert!(
        !jobs::extend(db, b, "node-2", lapsed + LEASE, lapsed + 1)
            .await
            .unwrap()
    );

    // Failures: back in the queue after the backoff, then dead with the error kept.
    let retry = Retry {
        base_ms: 1000,
        max_ms: 60_000,
        max_attempts: 3,
    };
    assert!(
        jobs::fail(
            db,
            b,
            "node-3",
            "receiver answered 502",
            &retry,
            0.0,
            lapsed + 2
        )
        .await
        .unwrap()
    );
    let j = jobs::get(db, b).await.unwrap().unwrap();
    assert_eq!((j.state.as_str(), j.run_at), ("queued", lapsed + 2 + 2000));
    assert_eq!(j.last_error.as_deref(), Some("receiver answered 502"));
    assert!(
        jobs::claim(db, "node-3", lapsed + 3, LEASE, 5)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    let got = jobs::claim(db, "node-3", lapsed + 2 + 2000, LEASE, 5)
        .await
        .unwrap();
    assert_eq!((got.len(), got[0].attempts), (1, 3));
    assert!(
        jobs::fail(db, b, "node-3", "timed out", &retry, 0.0, lapsed + 3000)
            .await
            .unwrap()
    );
    let j = jobs::get(db, b).await.unwrap().unwrap();
    assert_eq!(
        (j.state.as_str(), j.last_error.as_deref()),
        ("dead", Some("timed out"))
    );
    assert!(
        jobs::claim(db, "node-3", lapsed + 999_999, LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );

    // The administrator's retry brings a dead job back; cancel takes a queued one away.
    jobs::retry(db, b, lapsed + 4000).await.unwrap();
    let j = jobs::get(db, b).await.unwrap().unwrap();
    assert_eq!((j.state.as_str(), j.attempts), ("queued", 0));
    jobs::cancel(db, b, lapsed + 4001).await.unwrap();
    assert_eq!(jobs::get(db, b).await.unwrap().unwrap().state, "cancelled");
    assert!(matches!(
        jobs::cancel(db, b, lapsed + 4002).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        jobs::retry(db, a, lapsed + 4002).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        jobs::retry(db, 999_999, lapsed).await,
        Err(StoreError::NotFound)
    ));

    // Lists by state, newest first; an unknown state is refused.
    let dead_or_done: Vec<i64> = jobs::list(db, Some("done"), 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(dead_or_done, vec![a]);
    assert_eq!(
        jobs::list(db, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![b, a]
    );
    assert!(matches!(
        jobs::list(db, Some("lost"), 10).await,
        Err(StoreError::Invalid(_))
    ));
}
both_backends!(
    the_queue_leases_retries_and_takes_over_t,
    the_queue_leases_retries_and_takes_over
);

async fn periodic_work_is_enqueued_once_and_two_workers_never_share_a_job(db: &Db) {
    // Two nodes schedule the same round: one job.
    let first = jobs::enqueue(db, &job("escalate", T0, Some("2026-12-02T08")), T0)
        .await
        .unwrap();
    let second = jobs::enqueue(db, &job("escalate", T0, Some("2026-12-02T08")), T0)
        .await
        .unwrap();
    assert!(first.is_some() && second.is_none());
    assert!(
        jobs::enqueue(db, &job("escalate", T0, Some("2026-12-02T09")), T0)
            .await
            .unwrap()
            .is_some()
    );
    for i in 0..38 {
        jobs::enqueue(db, &job("remind", T0 + i, None), T0)
            .await
            .unwrap();
    }
    // Two workers claim at once, again and again, until nothing is left.
    let worker = |name: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = vec![];
            loop {
                let got = jobs::claim(&db, name, T0 + 100, LEASE, 3).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
            mine
        })
    };
    let (x, y) = (worker("node-x"), worker("node-y"));
    let (x, y) = (x.await.unwrap(), y.await.unwrap());
    let all: HashSet<i64> = x.iter().chain(&y).copied().collect();
    assert_eq!(x.len() + y.len(), 40, "every job claimed");
    assert_eq!(all.len(), 40, "no job claimed twice");
}
both_backends!(
    periodic_work_is_enqueued_once_and_two_workers_never_share_a_job_t,
    periodic_work_is_enqueued_once_and_two_workers_never_share_a_job
);
