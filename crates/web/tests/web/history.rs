//! Over time, through the API and the pages: a school's facts change from a given day (the
//! district's today by default) or are corrected explicitly, the history is shown; records
//! for orgs outside the caller's scope answer like missing ones; records naming their period
//! count for it, late.

use axum::http::StatusCode;
use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};
use xiaoan_domain::Role;
use xiaoan_testkit::{ADMIN, PW, TestApp, csrf_of, page, post_form, sign_in_page};

/// The seed's plan moved so that today falls in its second year, with terms around today.
async fn with_plan(f: &TestApp) -> NaiveDate {
    crate::compliance::with_plan(f).await.1
}

async fn row(f: &TestApp, token: &str, ob: &str, period: &str) -> Value {
    let path = format!(
        "/api/v1/compliance?org_id={}&period={period}&obligation={ob}&detail=true",
        f.tree.school_a
    );
    let r = f.get(&path, token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()[0].clone()
}

#[tokio::test]
async fn school_facts_change_from_a_day_and_their_history_is_shown() {
    let f = TestApp::new().await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let today = with_plan(&f).await;
    let admin = f.token(ADMIN).await;
    let bt = f.token("bureau").await;
    let path = format!("/api/v1/orgs/{}", f.tree.school_a);
    let last_month = (today.with_day(1).unwrap() - Days::new(1))
        .format("%Y-%m")
        .to_string();
    // School A has a canteen: close it from today (the default day).
    let before = row(&f, &bt, "meal-accompaniment", &last_month).await;
    assert_ne!(before["status"], "not_applicable");
    let r = f.patch(&path, &admin, &json!({"canteen": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["canteen"], json!(false));
    // Last month kept its facts: the canteen's duties still applied then.
    let after = row(&f, &bt, "meal-accompaniment", &last_month).await;
    assert_eq!(after["status"], before["status"], "{after}");
    // The history: from the start with a canteen, from today without.
    let h = f.get(&format!("{path}/facts"), &bt).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text());
    let h = h.json();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (&h[0]["effective_from"], &h[0]["canteen"]),
        (&Value::Null, &json!(true))
    );
    assert_eq!(
        (
            &h[1]["effective_from"],
            &h[1]["canteen"],
            &h[1]["recorded_by"]
        ),
        (&json!(today.to_string()), &json!(false), &json!(ADMIN))
    );
    // Not in the future; a correction takes no day.
    let tomorrow = (today + Days::new(1)).to_string();
    let r = f
        .patch(
            &path,
            &admin,
            &json!({"buses": true, "effective_from": tomorrow}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (
            StatusCode::BAD_REQUEST,
            "school_facts_effective_future".into()
        )
    );
    let r = f
        .patch(
            &path,
            &admin,
            &json!({"buses": true, "correction": true, "effective_from": today.to_string()}),
        )
        .await;
    assert_eq!(r.error_code(), "school_facts_correction_date");
    // A correction (the canteen never closed: a mistake) rewrites from that version's start.
    let r = f
        .patch(&path, &admin, &json!({"canteen": true, "correction": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let h = f.get(&format!("{path}/facts"), &bt).await.json();
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["correction"], &last["in_force"], &last["canteen"]),
        (&json!(true), &json!(true), &json!(true))
    );
    // Outside the caller's scope the history is as missing as the school.
    f.add_role_user("safety-b", "王安全", Role::SafetyOfficer, f.tree.school_b)
        .await;
    let other = f.token("safety-b").await;
    let r = f.get(&format!("{path}/facts"), &other).await;
    let missing = f.get("/api/v1/orgs/999999/facts", &other).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!((r.status, r.text()), (missing.status, missing.text()));

    // The org page shows the history and offers the day and the correction checkbox.
    let s = sign_in_page(&f, ADMIN, PW).await;
    let html = f
        .send(page(&format!("/orgs/{}", f.tree.school_a), Some(&s)))
        .await
        .text();
    assert!(
        html.contains("學校資料沿革") && html.contains("自始"),
        "{html}"
    );
    assert!(html.contains("name=\"correction\"") && html.contains("name=\"effective_from\""));
    assert!(
        html.contains("更正錯誤") && html.contains("已被取代"),
        "{html}"
    );
    // A change through the page takes its day from the form; one before the version in
    // force began is refused with the reason.
    let csrf = csrf_of(&html);
    let day = today.to_string();
    let form = [
        ("_csrf", csrf.as_str()),
        ("name", "東區第一小學"),
        ("code", "SCH-A"),
        ("school_type", "primary"),
        ("students", "500"),
        ("staff", "20"),
        ("canteen", "on"),
        ("labs", "on"),
        ("effective_from", day.as_str()),
    ];
    let earlier = (today - Days::new(40)).to_string();
    let mut early = form.to_vec();
    early.retain(|(k, _)| *k != "effective_from" && *k != "students");
    early.push(("effective_from", earlier.as_str()));
    early.push(("students", "777"));
    let at = format!("/orgs/{}", f.tree.school_a);
    let r = post_form(&f, &at, &s, &early).await;
    // Refused: back to the page (Post/Redirect/Get) saying why, every field kept.
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some(at.as_str()));
    let html = f.send(page(&at, Some(&s))).await.text();
    assert!(html.contains("更正登記錯誤"), "{html}");
    assert!(
        html.contains(&format!("value=\"{earlier}\"")) && html.contains("value=\"777\""),
        "the day and the facts sent are kept: {html}"
    );
    let r = post_form(&f, &format!("/orgs/{}", f.tree.school_a), &s, &form).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let h = f.get(&format!("{path}/facts"), &bt).await.json();
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["effective_from"], &last["labs"]),
        (&json!(day), &json!(true))
    );
}

#[tokio::test]
async fn records_for_orgs_outside_the_scope_answer_like_missing_ones() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let today = with_plan(&f).await;
    let drill = |org: i64| {
        json!({"org_id": org, "kind": "drill", "occurred_on": today.to_string(),
               "fields": {"drill_type": "fire", "participants": 280, "evacuation_seconds": 116}})
    };
    // The bureau sees school A but does not write its records: 403.
    let bt = f.token("bureau").await;
    let r = f
        .post("/api/v1/records", &bt, &drill(f.tree.school_a))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "record_org".into())
    );
    // The pages: another school's id and a missing one are both 404.
    let s = sign_in_page(&f, "safety-a", PW).await;
    let html = f
        .send(page("/records/new?kind=drill", Some(&s)))
        .await
        .text();
    let csrf = csrf_of(&html);
    let day = today.to_string();
    let post = |org: String| {
        let (f, s, csrf, day) = (&f, &s, csrf.clone(), day.clone());
        async move {
            let form = [
                ("_csrf", csrf.as_str()),
                ("kind", "drill"),
                ("org_id", org.as_str()),
                ("occurred_on", day.as_str()),
                ("drill_type", "fire"),
                ("participants", "300"),
                ("evacuation_seconds", "100"),
            ];
            post_form(f, "/records", s, &form).await
        }
    };
    let other = post(f.tree.school_b.to_string()).await;
    let missing = post("999999".into()).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let mine = post(f.tree.school_a.to_string()).await;
    assert!(mine.status.is_redirection(), "{}", mine.text());
}

#[tokio::test]
async fn last_years_report_entered_in_january_counts_for_last_year_late() {
    let f = TestApp::new().await;
    f.add_role_user("principal-a", "張校長", Role::Principal, f.tree.school_a)
        .await;
    let today = with_plan(&f).await;
    let token = f.token("principal-a").await;
    let last_year = today.year() - 1;
    let r = f
        .post(
            "/api/v1/records",
            &token,
            &json!({"kind": "annual_report", "occurred_on": today.to_string(),
                    "fields": {"report_year": last_year, "summary": "年度總結"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let old = row(&f, &token, "annual-report", &last_year.to_string()).await;
    assert_eq!(old["status"], "met", "{old}");
    assert_eq!(old["occurrences"][0]["late"], json!(true));
    let this = row(&f, &token, "annual-report", &today.year().to_string()).await;
    assert_eq!(this["measured"], json!(0.0), "{this}");
}
