//! Text search in the lists: what the user typed is looked for as it is, ignoring case;
//! `%`, `_` and `\` are characters like any other, never wildcards.

use crate::hazards::{TODAY, day, report, world};
use xiaoan_domain::text::Text;
use xiaoan_domain::{OrgKind, Role, Scope};
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, HazardFilter};
use xiaoan_store::orgs::{self, OrgFilter};
use xiaoan_store::users::{self, UserFilter};
use xiaoan_testkit::{both_backends, tree};

fn text_filter(q: &str) -> HazardFilter {
    HazardFilter {
        q: Some(q.into()),
        ..Default::default()
    }
}

async fn hazard_ids(db: &Db, scope: &Scope, q: &str) -> Vec<i64> {
    let mut v: Vec<i64> = hazards::list(db, scope, &text_filter(q), None, 200, day(TODAY))
        .await
        .unwrap()
        .items
        .iter()
        .map(|h| h.id)
        .collect();
    v.sort();
    v
}

async fn org_ids(db: &Db, q: &str) -> Vec<i64> {
    let f = OrgFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    let list = orgs::list(db, &Scope::everything(), &f).await.unwrap();
    list.iter().map(|o| o.id).collect()
}

async fn user_ids(db: &Db, q: &str) -> Vec<i64> {
    let f = UserFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    let list = users::list(db, &Scope::everything(), &f).await.unwrap();
    list.iter().map(|u| u.id).collect()
}

async fn hazard_search_takes_wildcards_literally(db: &Db) {
    let w = world(db).await;
    let mut ids = vec![];
    for title in [
        "滅火器壓力不足 50%",
        "電箱 A_1 未上鎖",
        "路徑 C:\\temp 外洩",
        "Broken Gate",
    ] {
        let mut r = report(w.school, "操場", vec![]);
        r.title = Text::line("title", title, 100).unwrap();
        let h = hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
            .await
            .unwrap();
        ids.push(h.hazard.id);
    }
    let scope = &w.centre.read;
    let found = |q: &'static str| hazard_ids(db, scope, q);
    assert_eq!(found("%").await, vec![ids[0]]);
    assert_eq!(found("_").await, vec![ids[1]]);
    assert_eq!(found("\\").await, vec![ids[2]]);
    assert_eq!(found("A_1").await, vec![ids[1]]);
    assert_eq!(found("a_1").await, vec![ids[1]], "case is ignored");
    assert_eq!(found("%%").await, Vec::<i64>::new());
    assert_eq!(found("gate").await, vec![ids[3]]);
    // Counts use the same filter.
    let c = hazards::counts(db, scope, &text_filter("%"), day(TODAY))
        .await
        .unwrap();
    assert_eq!(c.by_status.iter().map(|(_, n)| n).sum::<i64>(), 1);
}
both_backends!(
    hazard_search_takes_wildcards_literally_t,
    hazard_search_takes_wildcards_literally
);

async fn org_and_user_search_take_wildcards_literally(db: &Db) {
    let bureau = tree::org(db, OrgKind::Bureau, "B", None).await;
    let plain = tree::create_org(
        db,
        tree::new_org(
            OrgKind::Centre,
            "CA",
            "城關鎮教管中心",
            Some(bureau.id),
            None,
        ),
    )
    .await;
    let underscored = tree::create_org(
        db,
        tree::new_org(
            OrgKind::Centre,
            "C_B",
            "河口鎮教管中心",
            Some(bureau.id),
            None,
        ),
    )
    .await;
    let percent = tree::create_org(
        db,
        tree::new_org(
            OrgKind::Centre,
            "CC",
            "百分之百 100% 中心",
            Some(bureau.id),
            None,
        ),
    )
    .await;
    let orgs_for = |q: &'static str| org_ids(db, q);
    assert_eq!(orgs_for("_").await, vec![underscored.id]);
    assert_eq!(orgs_for("c_b").await, vec![underscored.id]);
    assert_eq!(orgs_for("%").await, vec![percent.id]);
    assert_eq!(orgs_for("城關").await, vec![plain.id]);

    let dotted = tree::role_user(db, "wang.li", Role::CentreOfficer, plain.id).await;
    let underscored = tree::role_user(db, "wang_li", Role::CentreOfficer, plain.id).await;
    let users_for = |q: &'static str| user_ids(db, q);
    assert_eq!(users_for("_").await, vec![underscored.id]);
    assert_eq!(users_for("WANG_").await, vec![underscored.id]);
    assert_eq!(users_for("wang.").await, vec![dotted.id]);
    assert_eq!(users_for("%").await, Vec::<i64>::new());
}
both_backends!(
    org_and_user_search_take_wildcards_literally_t,
    org_and_user_search_take_wildcards_literally
);

/// What the list must find for `q`: every hazard with a column containing `q`, ignoring
/// ASCII case (the reference the index must agree with).
fn expected(texts: &[(i64, [&str; 3])], q: &str) -> Vec<i64> {
    let q = q.trim().to_ascii_lowercase();
    let mut v: Vec<i64> = texts
        .iter()
        .filter(|(_, cols)| cols.iter().any(|c| c.to_ascii_lowercase().contains(&q)))
        .map(|(id, _)| *id)
        .collect();
    v.sort();
    v
}

async fn indexed_search_finds_every_substring(db: &Db) {
    let w = world(db).await;
    let rows = [
        ("教學樓三樓", "教室電線裸露", "北側教室插座外露電線"),
        ("操場", "圍欄 Broken", "東門圍欄鬆脫 gate"),
        ("食堂後廚", "滅火器過期", "二號滅火器壓力不足"),
        ("宿舍", "樓梯扶手鬆動", "三樓樓梯扶手"),
        ("校門", "監控盲區", "校門口攝像頭角度偏"),
    ];
    let mut texts = vec![];
    // Older hazards that all share one character (填): a short query common among the
    // newest hazards is answered by walking them, a rarer one through the index; the two
    // must find the same as the reference.
    for _ in 0..100 {
        let mut r = report(w.school, "填充區", vec![]);
        r.title = Text::line("title", "填補", 100).unwrap();
        r.description = Text::lines("description", "填寫記錄", 2000).unwrap();
        let h = hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
            .await
            .unwrap();
        texts.push((h.hazard.id, ["填充區", "填補", "填寫記錄"]));
    }
    for (location, title, description) in rows {
        let mut r = report(w.school, location, vec![]);
        r.title = Text::line("title", title, 100).unwrap();
        r.description = Text::lines("description", description, 2000).unwrap();
        let h = hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
            .await
            .unwrap();
        texts.push((h.hazard.id, [location, title, description]));
    }
    let scope = &w.centre.read;
    // One, two, three and more characters; Chinese and Latin in any case; across the end
    // of one column and the start of the next (never a match); text found nowhere.
    for q in [
        "填",
        "填寫",
        "教",
        "室",
        "樓",
        "電線",
        "教室",
        "樓梯",
        "梯扶",
        "教學樓",
        "教室電線",
        "插座外露電線",
        "broken",
        "BROKEN",
        "Gate",
        "g",
        "G",
        "er",
        "圍欄 B",
        "三樓樓梯扶手",
        "線北",
        "樓教室",
        "攝像頭角度偏",
        "無此文字",
        "xyz",
        "  滅火器  ",
        "滅火器過期二號",
    ] {
        assert_eq!(
            hazard_ids(db, scope, q).await,
            expected(&texts, q),
            "search for {q:?}"
        );
        let c = hazards::counts(db, scope, &text_filter(q), day(TODAY))
            .await
            .unwrap();
        assert_eq!(
            c.by_status.iter().map(|(_, n)| n).sum::<i64>(),
            expected(&texts, q).len() as i64,
            "count for {q:?}"
        );
    }
    // The two lists' rows (read as one text each) say what the hazard itself says, in
    // batches by id, the text query applied.
    let mut entries = vec![];
    let mut after = 0;
    loop {
        let batch = hazards::batch_after(db, scope, &text_filter("樓"), after, 1, day(TODAY))
            .await
            .unwrap();
        let Some(last) = batch.last() else { break };
        after = last.id;
        entries.extend(batch);
    }
    assert_eq!(
        entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected(&texts, "樓")
    );
    for e in &entries {
        let h = hazards::get(db, scope, e.id, day(TODAY)).await.unwrap();
        assert_eq!(
            (
                &e.number,
                &e.school_name,
                &e.location,
                &e.title,
                &e.description
            ),
            (
                &h.number,
                &h.school_name,
                &h.location,
                &h.title,
                &h.description
            )
        );
        assert_eq!(
            (
                e.category, e.grade, e.status, e.found_on, e.deadline, e.on_plan, e.overdue
            ),
            (
                h.category, h.grade, h.status, h.found_on, h.deadline, h.on_plan, h.overdue
            )
        );
        assert_eq!(
            e.owner_name,
            h.owner.map(|u| u.display_name).unwrap_or_default()
        );
        assert_eq!(e.closed_at, h.closed_at);
    }
    // Hazards numbers are searchable too.
    let number = hazards::get(db, scope, texts[2].0, day(TODAY))
        .await
        .unwrap()
        .number;
    assert_eq!(hazard_ids(db, scope, &number).await, vec![texts[2].0]);
    // Page by page, newest first, a search lists each match once.
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = hazards::list(
            db,
            scope,
            &text_filter("樓"),
            cursor.as_deref(),
            1,
            day(TODAY),
        )
        .await
        .unwrap();
        seen.extend(page.items.iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut want = expected(&texts, "樓");
    want.reverse();
    assert_eq!(seen, want, "newest first, each once");
    // Outside the caller's scope nothing is found.
    assert!(
        hazard_ids(db, &Scope::subtree("/nowhere/"), "教室")
            .await
            .is_empty()
    );
}
both_backends!(
    indexed_search_finds_every_substring_t,
    indexed_search_finds_every_substring
);

/// Counts kept in memory between changes are never older than the last committed change.
async fn counts_follow_every_change(db: &Db) {
    let w = world(db).await;
    let scope = &w.centre.read;
    let total = |c: &hazards::StatusCounts| c.by_status.iter().map(|(_, n)| n).sum::<i64>();
    let all = HazardFilter::default();
    let before = hazards::counts(db, scope, &all, day(TODAY)).await.unwrap();
    // The same answer twice, and the same as counting the rows.
    let again = hazards::counts(db, scope, &all, day(TODAY)).await.unwrap();
    assert_eq!(total(&before), total(&again));
    hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "操場", vec![]),
        day(TODAY),
    )
    .await
    .unwrap();
    let after = hazards::counts(db, scope, &all, day(TODAY)).await.unwrap();
    assert_eq!(
        total(&after),
        total(&before) + 1,
        "a new hazard is counted at once"
    );
    let rows = hazards::count_rows(db, scope, &all, day(TODAY))
        .await
        .unwrap();
    assert_eq!(total(&after), total(&rows));
    assert_eq!(after.overdue, rows.overdue);
}
both_backends!(counts_follow_every_change_t, counts_follow_every_change);
