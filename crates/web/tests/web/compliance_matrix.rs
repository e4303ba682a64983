//! The compliance matrix as a bureau official reads it: columns named by their obligation,
//! totals per unit, the worst first, a search by name, one unit as a list; citations and
//! parameters in words.

use crate::compliance::{drill, with_plan};
use axum::http::StatusCode;
use xiaoan_domain::Role;
use xiaoan_testkit::{PW, SCHOOL_A_NAME, SCHOOL_B_NAME, TestApp, page, sign_in_page};

#[tokio::test]
async fn the_matrix_names_its_columns_totals_each_unit_and_puts_the_worst_first() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let (_, today) = with_plan(&f).await;
    let token = f.token("safety-a").await;
    let r = f.post("/api/v1/records", &token, &drill(today)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let bureau = sign_in_page(&f, "bureau", PW).await;
    let month = &today.to_string()[..7];
    let open = |q: String| {
        let (f, bureau) = (&f, &bureau);
        async move {
            let r = f
                .send(page(&format!("/compliance?{q}"), Some(bureau)))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
            r.text()
        }
    };

    // Columns carry the obligation's name, not only its code; each row has its totals.
    let html = open(format!("task=4&period={month}")).await;
    assert!(
        html.contains("<span class=\"ob-title\">中小學每月應急疏散演練</span>"),
        "the drill column is named: {html}"
    );
    assert!(html.contains("<td class=\"totals\">"), "{html}");
    assert!(
        html.contains("已完成 1"),
        "school A's drill is counted: {html}"
    );
    // Tree order puts school A first; the worst first puts school B (no drill) before it.
    let (a, b) = (
        html.find(SCHOOL_A_NAME).unwrap(),
        html.find(SCHOOL_B_NAME).unwrap(),
    );
    assert!(a < b, "tree order");
    let worst = open(format!("task=4&period={month}&sort=worst")).await;
    let (a, b) = (
        worst.find(SCHOOL_A_NAME).unwrap(),
        worst.find(SCHOOL_B_NAME).unwrap(),
    );
    assert!(b < a, "worst first: {worst}");
    assert!(
        worst.contains("value=\"worst\" selected"),
        "the order is kept"
    );

    // A search by name narrows the rows, and one unit reads as a list.
    let one = open(format!("q=西山&period={month}")).await;
    assert!(
        one.contains(SCHOOL_B_NAME) && !one.contains(SCHOOL_A_NAME),
        "{one}"
    );
    assert!(
        one.contains("class=\"oblist\"") && !one.contains("<table class=\"matrix\">"),
        "one unit is a list: {one}"
    );
    assert!(one.contains("value=\"西山\""), "the search is kept");
    let by_id = open(format!("org_id={}&period={month}", f.tree.school_a)).await;
    assert!(by_id.contains("class=\"oblist\"") && by_id.contains(SCHOOL_A_NAME));
    // The API takes the same search.
    let api = f
        .get(
            &format!("/api/v1/compliance?q=%E8%A5%BF%E5%B1%B1&period={month}"),
            &f.token("bureau").await,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.text());
    let rows = api.json();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["org_name"] == SCHOOL_B_NAME),
        "{rows}"
    );

    // A principal's own school is a list too.
    f.add_role_user("principal-a", "王校長", Role::Principal, f.tree.school_a)
        .await;
    let principal = sign_in_page(&f, "principal-a", PW).await;
    let html = f.send(page("/compliance", Some(&principal))).await.text();
    assert!(html.contains("class=\"oblist\""), "{html}");
}

#[tokio::test]
async fn citations_and_parameters_read_as_people_write_them() {
    let f = TestApp::new().await;
    f.add_role_user("bureau", "校安辦", Role::BureauSafety, f.tree.bureau)
        .await;
    let (_, today) = with_plan(&f).await;
    let bureau = sign_in_page(&f, "bureau", PW).await;
    let cell = format!(
        "/compliance/cell?org_id={}&obligation=drill-school&period={}",
        f.tree.school_a,
        &today.to_string()[..7]
    );
    let raw = none_of(&[
        "rules D", "rules F", "rules G", "rules B", "rules E", "(rules", "[S]", "[V]", "[U]",
        "seed 三", "seed 四", "DRL-",
    ]);
    for lang in ["zh-TW", "zh-CN", "en"] {
        let html = f
            .send(page(&format!("{cell}&lang={lang}"), Some(&bureau)))
            .await
            .text();
        assert!(raw(&html), "{lang}: {html}");
        let campaign = f
            .send(page(&format!("/campaign?lang={lang}"), Some(&bureau)))
            .await
            .text();
        assert!(
            raw(&campaign) && !campaign.contains("food_sample_hours"),
            "{lang}: {campaign}"
        );
        assert!(!campaign.contains("課時/小時"), "{campaign}");
    }
    let html = f.send(page(&cell, Some(&bureau))).await.text();
    assert!(html.contains("《實施方案》"), "{html}");
    let campaign = f.send(page("/campaign", Some(&bureau))).await.text();
    assert!(campaign.contains("48 小時"), "{campaign}");
    assert!(!campaign.contains("{end_year}"), "{campaign}");
    // The school-bus part owes nothing where no school runs buses: not applicable, not 0 %.
    assert!(
        campaign.contains("不適用（本期間沒有須履行的單位）"),
        "{campaign}"
    );
}

/// A check that none of `needles` appears in a page.
fn none_of(needles: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |html: &str| needles.iter().all(|n| !html.contains(n))
}
