//! Uploads that nothing uses: removed after the grace period, never while a hazard step or
//! a record uses them, and the record of re-used bytes kept straight.

use crate::compliance::{drill, world};
use crate::hazards::{TODAY, day, report};
use xiaoan_domain::Scope;
use xiaoan_domain::audit::Actor;
use xiaoan_store::attachments::{self, NewAttachment};
use xiaoan_store::{Db, StoreError, calendar, hazards, records};
use xiaoan_testkit::both_backends;

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn upload(db: &Db, who: &Actor, name: &str, sha: &str) -> i64 {
    let new = NewAttachment {
        stored_name: name.into(),
        original_name: "p.jpg".into(),
        mime: "image/jpeg".into(),
        size: 10,
        width: 1,
        height: 1,
        source_sha256: sha.into(),
    };
    attachments::insert(db, who, who.user_id.unwrap(), new)
        .await
        .unwrap()
        .id
}

async fn unused_uploads_go_after_the_grace_period(db: &Db) {
    let w = world(db).await;
    let author = &w.author;
    let uid = author.user_id.unwrap();
    let on_record = upload(db, author, "record.jpg", "r").await;
    let on_hazard = upload(db, author, "hazard.jpg", "h").await;
    // Someone else's photo, then the same bytes from the author: reuse.
    let forgotten = upload(db, &w.other, "forgotten.jpg", "same").await;
    let reused = upload(db, author, "reused.jpg", "same").await;
    // One's own unused upload sent again (a form refused, then sent again): no reuse.
    let first_try = upload(db, author, "try1.jpg", "retry").await;
    let retry = upload(db, author, "try2.jpg", "retry").await;
    assert_eq!(
        attachments::get(db, uid, &Scope::everything(), retry)
            .await
            .unwrap()
            .duplicate_of,
        None
    );
    let fresh = upload(db, author, "fresh.jpg", "f").await;
    let cal = calendar::load(db).await.unwrap();
    let mut record = drill("2021-10-12", w.primary.id);
    record.attachment_ids = vec![on_record];
    records::create(
        db,
        author,
        &[w.primary.id],
        &w.plan,
        &cal,
        record,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    let everything = Scope::everything();
    hazards::create(
        db,
        author,
        uid,
        &everything,
        report(w.primary.id, "校門口", vec![on_hazard, reused]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert_eq!(
        attachments::get(db, uid, &everything, reused)
            .await
            .unwrap()
            .duplicate_of,
        Some(forgotten)
    );
    // Everything but the fresh upload was made two days ago.
    sqlx::query("UPDATE attachments SET created_at = created_at - $1 WHERE id <> $2")
        .bind(2 * DAY_MS)
        .bind(fresh)
        .execute(db.pool())
        .await
        .unwrap();
    let system = Actor::system("jobs");
    let cutoff = xiaoan_domain::now_millis() - DAY_MS;
    let removed = attachments::remove_unreferenced(db, &system, cutoff, 100)
        .await
        .unwrap();
    assert_eq!(
        removed,
        [
            (forgotten, "forgotten.jpg"),
            (first_try, "try1.jpg"),
            (retry, "try2.jpg")
        ]
        .map(|(id, name)| attachments::Removed {
            id,
            stored_name: name.into()
        })
    );
    assert!(matches!(
        attachments::get(db, uid, &everything, forgotten).await,
        Err(StoreError::NotFound)
    ));
    for kept in [on_record, on_hazard, reused, fresh] {
        assert!(attachments::get(db, uid, &everything, kept).await.is_ok());
    }
    // The re-used photo no longer names an upload that is gone (it is now the earliest).
    assert_eq!(
        attachments::get(db, uid, &everything, reused)
            .await
            .unwrap()
            .duplicate_of,
        None
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'attachment.remove_unreferenced' AND object_id = $1",
    )
    .bind(forgotten.to_string())
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Again: nothing more to do.
    assert!(
        attachments::remove_unreferenced(db, &system, cutoff, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Two days on, the fresh one is unused past its grace too; a batch of one takes it.
    let later = xiaoan_domain::now_millis() + DAY_MS;
    let removed = attachments::remove_unreferenced(db, &system, later, 1)
        .await
        .unwrap();
    assert_eq!(
        removed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![fresh]
    );
}
both_backends!(
    unused_uploads_go_after_the_grace_period_t,
    unused_uploads_go_after_the_grace_period
);
