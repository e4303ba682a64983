//! The record form and the calendar refuse bad input clearly, in the user's language.

use crate::compliance::with_plan;
use axum::http::StatusCode;
use chrono::Datelike;
use xiaoan_domain::Role;
use xiaoan_testkit::PW;
use xiaoan_testkit::{TestApp, csrf_of, page, post_form, sign_in_page};

#[tokio::test]
async fn the_record_form_and_the_calendar_refuse_bad_input_clearly() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let (_, today) = with_plan(&f).await;
    let school = sign_in_page(&f, "safety-a", PW).await;
    let r = f
        .send(page(
            "/records/new?kind=drill&obligation=drill-school",
            Some(&school),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("name=\"evacuation_seconds\""), "{html}");
    let csrf = csrf_of(&html);
    let day = today.to_string();
    let org = f.tree.school_a.to_string();
    let base = [
        ("_csrf", csrf.as_str()),
        ("kind", "drill"),
        ("org_id", org.as_str()),
        ("occurred_on", day.as_str()),
        ("drill_type", "earthquake"),
        ("participants", "320"),
    ];
    // Missing the evacuation time: back to the form (303, no form token in the address),
    // naming the field, values kept; the form again once only.
    let r = post_form(&f, "/records", &school, &base).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let back = r.header("location").unwrap().to_string();
    assert!(
        back.starts_with("/records/new?") && !back.contains("_csrf"),
        "{back}"
    );
    let html = f.send(page(&back, Some(&school))).await.text();
    assert!(
        !f.send(page(&back, Some(&school)))
            .await
            .text()
            .contains("value=\"320\""),
        "a reload shows a fresh form"
    );
    assert!(
        html.contains("疏散用時") && html.contains("value=\"320\""),
        "{html}"
    );
    let mut good = base.to_vec();
    good.push(("evacuation_seconds", "98"));
    good.push(("problems", "廣播聽不清\r\n出口燈不亮"));
    let r = post_form(&f, "/records", &school, &good).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let saved = r.header("location").unwrap().to_string();
    let html = f.send(page(&saved, Some(&school))).await.text();
    assert!(
        html.contains("廣播聽不清、出口燈不亮") && !html.contains("record_field."),
        "{html}"
    );
    // The saved record says so, and its correction forms stay folded until asked for.
    assert!(
        html.contains("已保存") && html.contains("<details class=\"card narrow\">"),
        "{html}"
    );
    // Its author by name.
    assert!(html.contains("<dd>李安全 · "), "{html}");
    let at = saved.split('?').next().unwrap().to_string();
    assert!(
        html.contains("/withdraw"),
        "the author may still withdraw it: {html}"
    );
    // A correction refused (no evacuation time): back to the record (Post/Redirect/Get)
    // saying why, the corrected values and the reason kept; then accepted, and the
    // revision history names who changed it.
    let csrf = csrf_of(&html);
    let mut fix = good.clone();
    fix.retain(|(k, _)| !matches!(*k, "kind" | "evacuation_seconds" | "participants"));
    fix.push(("participants", "333"));
    fix.push(("reason", "人數點錯了"));
    let r = post_form(&f, &at, &school, &fix).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some(at.as_str()));
    let html = f.send(page(&at, Some(&school))).await.text();
    assert!(
        html.contains("疏散用時")
            && html.contains("value=\"333\"")
            && html.contains("value=\"人數點錯了\"")
            && html.contains("<details class=\"card narrow\" open>"),
        "{html}"
    );
    fix.push(("evacuation_seconds", "90"));
    let r = post_form(&f, &at, &school, &fix).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let html = f.send(page(&at, Some(&school))).await.text();
    assert!(
        html.contains("人數點錯了 · 李安全 (safety-a)"),
        "the history names who corrected it: {html}"
    );
    // A problem the drill found becomes a hazard at the school, in the closed loop.
    let hazards = format!("{at}/hazards");
    let r = post_form(
        &f,
        &hazards,
        &school,
        &[
            ("_csrf", &csrf),
            ("problem", "1"),
            ("category", "fire_heating"),
        ],
    )
    .await;
    // Refused (a location is needed): back to the record saying why, the category kept.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a location is needed");
    assert_eq!(r.header("location"), Some(at.as_str()));
    let html = f.send(page(&at, Some(&school))).await.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(
        html.contains("<option value=\"fire_heating\" selected>"),
        "the category sent is kept: {html}"
    );
    // Shown once: a reload shows the page as it is.
    let again = f.send(page(&at, Some(&school))).await.text();
    assert!(!again.contains("role=\"alert\""), "{again}");
    let r = post_form(
        &f,
        &hazards,
        &school,
        &[
            ("_csrf", &csrf),
            ("problem", "1"),
            ("category", "buildings"),
            ("location", "教學樓東側"),
        ],
    )
    .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let hazard = r.header("location").unwrap().to_string();
    assert!(hazard.starts_with("/hazards/"), "{hazard}");
    let html = f.send(page(&hazard, Some(&school))).await.text();
    assert!(
        html.contains("出口燈不亮") && html.contains("教學樓東側"),
        "{html}"
    );
    let r = f
        .send(page("/records/new?kind=picnic", Some(&school)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The calendar: the bureau edits it; a school may not; overlaps are refused.
    let bureau = sign_in_page(&f, "bureau", PW).await;
    let html = f.send(page("/calendar", Some(&bureau))).await.text();
    let csrf = csrf_of(&html);
    let y = (today.year() - 1).to_string();
    let r = post_form(
        &f,
        "/calendar/terms",
        &bureau,
        &[
            ("_csrf", &csrf),
            ("school_year", &y),
            ("number", "2"),
            ("starts_on", &format!("{}-01-10", today.year())),
            ("ends_on", &format!("{}-07-01", today.year())),
        ],
    )
    .await;
    // Refused: back to the page (Post/Redirect/Get) saying why, the term's fields kept.
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/calendar"));
    let html = f.send(page("/calendar", Some(&bureau))).await.text();
    assert!(html.contains("重疊"), "{html}");
    assert!(
        html.contains(&format!(
            "name=\"school_year\" min=\"2000\" max=\"2100\" required value=\"{y}\""
        )) && html.contains(&format!("value=\"{}-07-01\"", today.year()))
            && html.contains("<option value=\"2\" selected>"),
        "{html}"
    );
    let r = post_form(
        &f,
        "/calendar/days",
        &bureau,
        &[
            ("_csrf", &csrf),
            ("day", &format!("{}-10-02", today.year())),
            ("kind", "holiday"),
            ("note", "國慶"),
        ],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let school_csrf = csrf_of(&f.send(page("/records", Some(&school))).await.text());
    let r = post_form(
        &f,
        "/calendar/days",
        &school,
        &[
            ("_csrf", &school_csrf),
            ("day", "2026-10-03"),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
