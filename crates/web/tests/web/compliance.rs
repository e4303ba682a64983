//! Obligations, records and compliance over the API and the pages: the contract's routes,
//! field validation with clear errors, corrections by the author only, the matrix, the
//! drill-in, "what is due", the campaign pages, the calendar and the record forms, in the
//! three languages.

use axum::http::StatusCode;
use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};
use xiaoan_domain::Role;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::Term;
use xiaoan_domain::plan::parse;
use xiaoan_store::plans::StoredPlan;
use xiaoan_store::{calendar, compliance, plans};
use xiaoan_testkit::PW;
use xiaoan_testkit::{SCHOOL_A_NAME, TestApp, page, sign_in_page};

const SEED: &str = include_str!("../../../../plans/edu-safety-3yr.toml");

/// Loads the seed's plan moved so that today falls in its second year, with a calendar of
/// terms around today; returns it and today's date in the district.
pub(crate) async fn with_plan(f: &TestApp) -> (StoredPlan, NaiveDate) {
    let seed = parse(SEED).expect("seed plan");
    let today = xiaoan_domain::District::default().today();
    let plan = seed.rebased(today.year() - seed.starts_on.year() - 1);
    let admin = Actor::system("test");
    for y in today.year() - 2..=today.year() {
        let t = |n: u8, s: (i32, u32, u32), e: (i32, u32, u32)| Term {
            school_year: y,
            number: n,
            starts_on: NaiveDate::from_ymd_opt(s.0, s.1, s.2).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(e.0, e.1, e.2).unwrap(),
        };
        calendar::set_term(&f.db, &admin, t(1, (y, 9, 1), (y + 1, 1, 16)))
            .await
            .unwrap();
        calendar::set_term(&f.db, &admin, t(2, (y + 1, 2, 23), (y + 1, 7, 10)))
            .await
            .unwrap();
    }
    let stored = plans::load(&f.db, &admin, &plan, SEED)
        .await
        .unwrap()
        .plan()
        .clone();
    let cal = calendar::load(&f.db).await.unwrap();
    compliance::recompute(&f.db, &admin, &stored, &cal, None)
        .await
        .unwrap();
    (stored, today)
}

pub(crate) fn drill(day: NaiveDate) -> Value {
    json!({"kind": "drill", "occurred_on": day.to_string(),
           "fields": {"drill_type": "fire", "participants": 280, "evacuation_seconds": 116, "problems": ["三樓東梯擁堵"]}})
}

async fn drill_row(f: &TestApp, token: &str, today: NaiveDate) -> Value {
    let path = format!(
        "/api/v1/compliance?org_id={}&period={}&obligation=drill-school",
        f.tree.school_a,
        &today.to_string()[..7]
    );
    let r = f.get(&path, token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

#[tokio::test]
async fn the_api_lists_obligations_takes_records_and_reports_compliance() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let token = f.token("safety-a").await;
    // Before a plan is loaded: empty lists, and records are refused clearly.
    assert_eq!(f.get("/api/v1/obligations", &token).await.json(), json!([]));
    let r = f
        .post(
            "/api/v1/records",
            &token,
            &drill(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "no_active_plan".into())
    );

    let (plan, today) = with_plan(&f).await;
    let obs = f.get("/api/v1/obligations", &token).await.json();
    let obs = obs.as_array().unwrap();
    assert_eq!(obs.len(), plan.plan.obligations.len());
    let hours = obs
        .iter()
        .find(|o| o["id"] == "edu-hours")
        .expect("edu-hours");
    assert_eq!(
        hours["threshold"],
        json!({"type": "sum", "field": "hours", "target": 12.0})
    );
    assert_eq!(hours["unit"], "hours");
    assert_eq!(hours["task_numeral"], "四");
    let kinds = f.get("/api/v1/record-kinds", &token).await.json();
    let drill_kind = kinds
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["code"] == "drill")
        .unwrap()
        .clone();
    assert!(
        drill_kind["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "evacuation_seconds" && x["required"] == true)
    );

    // Nothing yet this month: the monthly drill is due.
    let row = drill_row(&f, &token, today).await;
    assert_eq!(
        (
            row["status"].as_str(),
            row["measured"].as_f64(),
            row["target"].as_f64()
        ),
        (Some("due"), Some(0.0), Some(1.0))
    );
    // A drill today: 201, and the matrix is current at once.
    let r = f.post("/api/v1/records", &token, &drill(today)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let rec = r.json();
    assert_eq!(
        (rec["org_id"].as_i64(), rec["revision"].as_i64()),
        (Some(f.tree.school_a), Some(1))
    );
    let row = drill_row(&f, &token, today).await;
    assert_eq!(
        (row["status"].as_str(), row["measured"].as_f64()),
        (Some("met"), Some(1.0))
    );

    // Fields are validated against the kind; each refusal names its field.
    let bad = |fields: Value| json!({"kind": "drill", "occurred_on": today.to_string(), "fields": fields});
    for (body, code, field) in [
        (
            bad(
                json!({"drill_type": "fire", "participants": 1, "evacuation_seconds": 1, "colour": "red"}),
            ),
            "record_field_unknown",
            "colour",
        ),
        (
            bad(json!({"drill_type": "fire", "participants": 1})),
            "record_field_missing",
            "evacuation_seconds",
        ),
        (
            bad(json!({"drill_type": "fire", "participants": 1, "evacuation_seconds": 99999})),
            "record_field_range",
            "evacuation_seconds",
        ),
        (
            bad(json!({"drill_type": "picnic", "participants": 1, "evacuation_seconds": 9})),
            "record_field_choice",
            "drill_type",
        ),
        (
            bad(json!({"drill_type": "fire", "participants": "many", "evacuation_seconds": 9})),
            "record_field_type",
            "participants",
        ),
    ] {
        let r = f.post("/api/v1/records", &token, &body).await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::BAD_REQUEST, code.to_string()),
            "{}",
            r.text()
        );
        // The message names the field in words (a field the kind lacks as it was sent),
        // `error.fields` by its key.
        let e = &r.json()["error"];
        assert!(
            (code == "record_field_unknown") == e["message"].as_str().unwrap().contains(field)
                && e["fields"].as_array().unwrap().iter().any(|f| f == field),
            "{}",
            r.text()
        );
    }
    // Every missing field is named, not only the first.
    let r = f
        .post("/api/v1/records", &token, &bad(json!({"participants": 1})))
        .await;
    let e = &r.json()["error"];
    assert_eq!(
        e["fields"],
        json!(["drill_type", "evacuation_seconds"]),
        "{e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("演練類型") && message.contains("疏散用時"),
        "{message}"
    );
    // Unknown top-level fields, unknown kinds, future dates, other schools.
    let mut extra = drill(today);
    extra["colour"] = json!("red");
    assert_eq!(
        f.post("/api/v1/records", &token, &extra).await.error_code(),
        "bad_fields"
    );
    let mut kind = drill(today);
    kind["kind"] = json!("picnic");
    assert_eq!(
        f.post("/api/v1/records", &token, &kind).await.error_code(),
        "record_kind"
    );
    let r = f
        .post("/api/v1/records", &token, &drill(today + Days::new(3)))
        .await;
    assert_eq!(r.error_code(), "record_date_future");
    // Another school's id answers exactly like an id that does not exist.
    let mut other = drill(today);
    other["org_id"] = json!(f.tree.school_b);
    let r = f.post("/api/v1/records", &token, &other).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let mut missing = drill(today);
    missing["org_id"] = json!(999_999);
    let gone = f.post("/api/v1/records", &token, &missing).await;
    assert_eq!((gone.status, gone.text()), (r.status, r.text()));
    let mut bad_day = drill(today);
    bad_day["occurred_on"] = json!("2026-13-01");
    let r = f.post("/api/v1/records", &token, &bad_day).await;
    assert_eq!(r.error_code(), "record_date");

    // The bureau sees every school; periods are months, quarters or years.
    let bt = f.token("bureau").await;
    for period in [
        &today.to_string()[..7],
        &format!("{}-Q{}", today.year(), (today.month() - 1) / 3 + 1),
        &today.year().to_string(),
    ] {
        let r = f
            .get(&format!("/api/v1/compliance?period={period}"), &bt)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{period}: {}", r.text());
        let rows = r.json();
        let rows = rows.as_array().unwrap();
        assert_eq!(
            r.header("x-total-count"),
            Some("3"),
            "two schools and the bureau"
        );
        assert!(rows.iter().all(|x| {
            ["met", "due", "overdue", "missed", "not_applicable"]
                .contains(&x["status"].as_str().unwrap())
        }));
        assert!(
            rows.iter()
                .any(|x| x["org_id"] == f.tree.school_b && x["obligation_id"] == "patrol")
        );
    }
    let r = f.get("/api/v1/compliance?period=2026-13", &bt).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::BAD_REQUEST, "period".into())
    );
    let r = f.get("/api/v1/compliance?obligation=nope", &bt).await;
    assert_eq!(r.error_code(), "obligation_unknown");
    let r = f.get("/api/v1/compliance?colour=red", &bt).await;
    assert_eq!(r.error_code(), "bad_query");
    // A school sees itself only: another school is not found.
    let r = f
        .get(
            &format!("/api/v1/compliance?org_id={}", f.tree.school_b),
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let detail = f
        .get(
            &format!(
                "/api/v1/compliance?org_id={}&obligation=patrol&detail=true",
                f.tree.school_a
            ),
            &token,
        )
        .await;
    assert!(detail.json()[0]["occurrences"].is_array());
    // Recompute on demand changes nothing that was already current.
    let r = f
        .post("/api/v1/compliance/recompute", &bt, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["obligations"].as_u64(),
        Some(plan.plan.obligations.len() as u64)
    );
    assert_eq!(drill_row(&f, &token, today).await["status"], "met");
}

#[tokio::test]
async fn only_the_author_corrects_and_history_is_kept() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("principal-a", "王校長", Role::Principal, f.tree.school_a)
        .await;
    let (_, today) = with_plan(&f).await;
    let token = f.token("safety-a").await;
    let rec = f
        .post("/api/v1/records", &token, &drill(today))
        .await
        .json();
    let path = format!("/api/v1/records/{}", rec["id"]);
    // A correction needs a reason.
    let r = f.patch(&path, &token, &json!({"fields": {"drill_type": "fire", "participants": 300, "evacuation_seconds": 101}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = f.patch(&path, &token, &json!({"reason": "人數填錯", "fields": {"drill_type": "fire", "participants": 300, "evacuation_seconds": 101}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["revision"].as_i64(),
            r.json()["fields"]["participants"].as_i64()
        ),
        (Some(2), Some(300))
    );
    // Someone else, even the principal, may not.
    let pt = f.token("principal-a").await;
    let r = f
        .patch(&path, &pt, &json!({"reason": "x", "withdraw": true}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "record_not_author".into())
    );
    // Withdrawn: kept, marked, no longer counted.
    let r = f
        .patch(
            &path,
            &token,
            &json!({"reason": "重複登記", "withdraw": true}),
        )
        .await;
    assert_eq!(r.json()["withdrawn"], true);
    assert_eq!(drill_row(&f, &token, today).await["status"], "due");
    let r = f.patch(&path, &token, &json!({"reason": "再改"})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "record_withdrawn".into())
    );
    let list = f
        .get("/api/v1/records?include_withdrawn=true", &token)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(f.get("/api/v1/records", &token).await.json(), json!([]));
    // The page shows both earlier versions with their reasons.
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let html = f
        .send(page(&format!("/records/{}", rec["id"]), Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("人數填錯") && html.contains("重複登記"),
        "{html}"
    );
}

#[tokio::test]
async fn the_pages_show_matrix_cells_due_lists_and_the_campaign() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    // Before a plan: the pages say so.
    let bureau = sign_in_page(&f, "bureau", PW).await;
    let r = f.send(page("/compliance", Some(&bureau))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("xiaoan plan load"));
    let (_, today) = with_plan(&f).await;
    let token = f.token("safety-a").await;
    f.post("/api/v1/records", &token, &drill(today)).await;

    let r = f.send(page("/compliance", Some(&bureau))).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(
        html.contains(SCHOOL_A_NAME)
            && html.contains("cs-met")
            && html.contains("cs-not_applicable"),
        "{html}"
    );
    for q in [
        "?task=6",
        "?section=aid",
        "?status=met",
        "?school_type=kindergarten",
        "?period=2026",
    ] {
        let r = f
            .send(page(&format!("/compliance{q}"), Some(&bureau)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
    }
    let r = f.send(page("/compliance?period=26-1", Some(&bureau))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("YYYY-MM"));
    let cell = format!(
        "/compliance/cell?org_id={}&obligation=drill-school&period={}",
        f.tree.school_a,
        &today.to_string()[..7]
    );
    let html = f.send(page(&cell, Some(&bureau))).await.text();
    assert!(
        html.contains("三樓東梯擁堵") || html.contains("116"),
        "the drill is the evidence: {html}"
    );
    assert!(
        html.contains("應急疏散演練指南》(2014年)")
            || html.contains("應急疏散演練指南》（2014年）"),
        "the citation is shown"
    );
    // English and Simplified Chinese.
    let en = f
        .send(page("/compliance?lang=en", Some(&bureau)))
        .await
        .text();
    assert!(
        en.contains("Compliance matrix") && en.contains("Lead section"),
        "{en}"
    );
    let cn = f
        .send(page(&format!("{cell}&lang=zh-CN"), Some(&bureau)))
        .await
        .text();
    assert!(cn.contains("佐证记录"), "{cn}");

    // The school's "what is due" and the home page's reminders.
    let school = sign_in_page(&f, "safety-a", PW).await;
    let html = f.send(page("/due", Some(&school))).await.text();
    assert!(
        html.contains("本週到期") && html.contains("/records/new?kind="),
        "{html}"
    );
    // Overdue and missed come before what is merely due.
    let (overdue, missed, week) = (
        html.find("已逾期").unwrap(),
        html.find("近期未完成").unwrap(),
        html.find("本週到期").unwrap(),
    );
    assert!(overdue < missed && missed < week, "{html}");
    // The bureau's own duties are shown with the bureau named in the selector, not a school.
    let html = f.send(page("/due", Some(&bureau))).await.text();
    let selected = html
        .split("<option")
        .find(|o| o.contains(" selected"))
        .expect("an option is selected");
    assert!(
        selected.contains(&format!("value=\"{}\"", f.tree.bureau)),
        "{selected}"
    );
    let home = f.send(page("/", Some(&school))).await.text();
    assert!(home.contains("履職提醒"), "{home}");
    // The campaign, its sections and the calendar.
    let html = f.send(page("/campaign", Some(&bureau))).await.text();
    assert!(
        html.contains("集中攻堅") && html.contains("每餐食品留樣重量") && html.contains("待核實"),
        "{html}"
    );
    let html = f
        .send(page("/campaign/sections?section=aid", Some(&bureau)))
        .await
        .text();
    assert!(html.contains("食品留樣"), "{html}");
    let html = f.send(page("/calendar", Some(&bureau))).await.text();
    assert!(html.contains("第一學期"), "{html}");
}
