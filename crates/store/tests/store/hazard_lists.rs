//! Hazards over time and in bulk: escalation without anyone acting, duplicates and
//! recurrences, re-used photos, lists, paging and counts.

use crate::hazards::{TODAY, day, photo, register, report, step, world};
use xiaoan_domain::hazard::{Action, Category, Escalation, Grade, Status};
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, HazardFilter, HazardOrder};
use xiaoan_testkit::both_backends;

async fn escalation_runs_without_anyone_acting(db: &Db) {
    let w = world(db).await;
    let late = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "鍋爐房", vec![]),
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    step(db, &w, &w.safety, late.id, register(w.staff.id, TODAY))
        .await
        .unwrap();
    let mut major = report(w.school, "圍牆", vec![]);
    major.grade = Grade::Major;
    let major = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        major,
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    // Reported but not yet registered: no escalation even when major.
    assert_eq!(hazards::escalate(db, day(TODAY), 7).await.unwrap(), 0);
    step(
        db,
        &w,
        &w.safety,
        major.id,
        register(w.staff.id, "2027-01-31"),
    )
    .await
    .unwrap();
    // Next day: the late one goes to the centre, the major one is listed; a rerun changes nothing.
    assert_eq!(
        hazards::escalate(db, day("2026-11-30"), 7).await.unwrap(),
        2
    );
    assert_eq!(
        hazards::escalate(db, day("2026-11-30"), 7).await.unwrap(),
        0
    );
    let at = |id| hazards::get(db, &w.centre.read, id, day("2026-11-30"));
    assert_eq!(at(late.id).await.unwrap().escalation, Escalation::Centre);
    assert!(at(late.id).await.unwrap().overdue);
    assert_eq!(at(major.id).await.unwrap().escalation, Escalation::Listed);
    // Eight days late: listed for bureau supervision.
    assert_eq!(
        hazards::escalate(db, day("2026-12-08"), 7).await.unwrap(),
        1
    );
    assert_eq!(at(late.id).await.unwrap().escalation, Escalation::Listed);
    let f = HazardFilter {
        escalation_at_least: Some(Escalation::Listed),
        open: true,
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &f, None, 50, day("2026-12-08"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let history = hazards::history(db, &at(late.id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.action == "escalate" || e.action == "list")
            .count(),
        2
    );
}
both_backends!(
    escalation_runs_without_anyone_acting_t,
    escalation_runs_without_anyone_acting
);

async fn duplicates_recurrences_and_reused_photos(db: &Db) {
    let w = world(db).await;
    let p1 = photo(db, &w.staff, "same-bytes").await;
    let first = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓 3F 走廊", vec![p1]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert!(first.possible_duplicates.is_empty());
    let second = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓3f走廊", vec![]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert_eq!(second.possible_duplicates, vec![first.hazard.id]);
    assert_eq!(second.hazard.number, "S1-2026-0002");
    step(
        db,
        &w,
        &w.safety,
        second.hazard.id,
        Action::Dismiss {
            reason: "重複上報".into(),
        },
    )
    .await
    .unwrap();
    // Close the first one with a photo whose bytes were used before: flagged.
    let id = first.hazard.id;
    step(db, &w, &w.safety, id, register(w.staff.id, "2026-12-05"))
        .await
        .unwrap();
    step(db, &w, &w.staff, id, Action::Start).await.unwrap();
    let p2 = photo(db, &w.staff, "same-bytes").await;
    let h = step(
        db,
        &w,
        &w.staff,
        id,
        Action::Submit {
            note: "done".into(),
            attachments: vec![p2],
        },
    )
    .await
    .unwrap();
    let history = hazards::history(db, &h).await.unwrap();
    assert!(
        history.last().unwrap().attachments[0].reused,
        "a photo re-used from the report is flagged"
    );
    step(
        db,
        &w,
        &w.principal,
        id,
        Action::Verify { note: "ok".into() },
    )
    .await
    .unwrap();
    // The same place again after close-out is a recurrence.
    let third = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓3F走廊", vec![]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert!(third.possible_duplicates.is_empty());
    assert_eq!(third.hazard.recurrence_of, Some(id));
}
both_backends!(
    duplicates_recurrences_and_reused_photos_t,
    duplicates_recurrences_and_reused_photos
);

async fn lists_filter_page_and_count(db: &Db) {
    let w = world(db).await;
    let mut ids = vec![];
    for i in 0..7 {
        let mut r = report(w.school, &format!("教室{i}"), vec![]);
        if i % 2 == 0 {
            r.category = Category::FireHeating;
        }
        ids.push(
            hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
                .await
                .unwrap()
                .hazard
                .id,
        );
    }
    step(db, &w, &w.safety, ids[0], register(w.staff.id, TODAY))
        .await
        .unwrap();
    let today = day("2026-12-01");
    let page1 = hazards::list(db, &w.centre.read, &HazardFilter::default(), None, 3, today)
        .await
        .unwrap();
    assert_eq!(
        page1.items.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![ids[6], ids[5], ids[4]]
    );
    let page2 = hazards::list(
        db,
        &w.centre.read,
        &HazardFilter::default(),
        page1.next_cursor.as_deref(),
        3,
        today,
    )
    .await
    .unwrap();
    assert_eq!(
        page2.items.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![ids[3], ids[2], ids[1]]
    );
    let page3 = hazards::list(
        db,
        &w.centre.read,
        &HazardFilter::default(),
        page2.next_cursor.as_deref(),
        3,
        today,
    )
    .await
    .unwrap();
    assert_eq!(page3.items.len(), 1);
    assert!(page3.next_cursor.is_none());
    let fire = HazardFilter {
        category: Some(Category::FireHeating),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &fire, None, 50, today)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    let overdue = HazardFilter {
        overdue: Some(true),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &overdue, None, 50, today)
            .await
            .unwrap()
            .items[0]
            .id,
        ids[0]
    );
    let text = HazardFilter {
        q: Some("教室3".into()),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &text, None, 50, today)
            .await
            .unwrap()
            .items[0]
            .id,
        ids[3]
    );
    let c = hazards::counts(db, &w.centre.read, &HazardFilter::default(), today)
        .await
        .unwrap();
    assert_eq!(
        c.by_status
            .iter()
            .find(|(s, _)| *s == Status::Reported)
            .unwrap()
            .1,
        6
    );
    assert_eq!(
        c.by_status
            .iter()
            .find(|(s, _)| *s == Status::Registered)
            .unwrap()
            .1,
        1
    );
    assert_eq!(c.overdue, 1);
    // With a status filter, the per-status counts still show every status (the tabs), while
    // overdue and listed count only hazards in that status.
    let reported = HazardFilter {
        status: Some(Status::Reported),
        ..Default::default()
    };
    let c = hazards::counts(db, &w.centre.read, &reported, today)
        .await
        .unwrap();
    let registered = c.by_status.iter().find(|(s, _)| *s == Status::Registered);
    assert_eq!(registered.map(|r| r.1), Some(1));
    assert_eq!(
        c.overdue, 0,
        "the overdue hazard is registered, not reported"
    );
}
both_backends!(lists_filter_page_and_count_t, lists_filter_page_and_count);

/// Every page of `f` in `order`, `limit` at a time, following the cursors.
async fn all_pages(
    db: &Db,
    scope: &xiaoan_domain::Scope,
    f: &HazardFilter,
    limit: i64,
    today: chrono::NaiveDate,
) -> Vec<i64> {
    let mut ids = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let page = hazards::list(db, scope, f, cursor.as_deref(), limit, today)
            .await
            .unwrap();
        assert!(page.items.len() as i64 <= limit);
        ids.extend(page.items.iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) if !page.items.is_empty() => cursor = Some(c),
            _ => return ids,
        }
    }
}

async fn most_overdue_first_pages_in_order(db: &Db) {
    let w = world(db).await;
    let mut ids = vec![];
    for i in 0..7 {
        let r = report(w.school, &format!("實驗室{i}"), vec![]);
        let h = hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
            .await
            .unwrap();
        ids.push(h.hazard.id);
    }
    // Deadlines as registered; h4 is never registered, h5 is being rectified, h6 dismissed.
    for (i, deadline) in [
        (0, "2026-12-03"),
        (1, "2026-12-01"),
        (2, "2026-12-03"),
        (3, "2026-12-20"),
        (5, "2026-11-30"),
        (6, "2026-12-02"),
    ] {
        step(db, &w, &w.safety, ids[i], register(w.staff.id, deadline))
            .await
            .unwrap();
    }
    step(db, &w, &w.staff, ids[5], Action::Start).await.unwrap();
    step(
        db,
        &w,
        &w.safety,
        ids[6],
        Action::Dismiss {
            reason: "重複登記".into(),
        },
    )
    .await
    .unwrap();
    let today = day("2026-12-10");
    let by_lateness = HazardFilter {
        order: HazardOrder::MostOverdue,
        ..Default::default()
    };
    // The earliest deadline (the most overdue) first, equal deadlines newest first; then
    // everything else newest first (a dismissed hazard is not overdue, whatever its deadline).
    let want = vec![ids[5], ids[1], ids[2], ids[0], ids[6], ids[4], ids[3]];
    for limit in 1..=8 {
        assert_eq!(
            all_pages(db, &w.centre.read, &by_lateness, limit, today).await,
            want,
            "pages of {limit}"
        );
    }
    let overdue_only = HazardFilter {
        overdue: Some(true),
        ..by_lateness.clone()
    };
    for limit in 1..=4 {
        assert_eq!(
            all_pages(db, &w.centre.read, &overdue_only, limit, today).await,
            vec![ids[5], ids[1], ids[2], ids[0]],
            "overdue view in pages of {limit}"
        );
    }
    // The default order is unchanged: newest first.
    let mut newest = ids.clone();
    newest.reverse();
    assert_eq!(
        all_pages(db, &w.centre.read, &HazardFilter::default(), 3, today).await,
        newest
    );
}
both_backends!(
    most_overdue_first_pages_in_order_t,
    most_overdue_first_pages_in_order
);
