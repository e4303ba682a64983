//! Who sees which part of the org tree, moves within the tree, its order, and what the
//! caller and the user list say about accounts.

use axum::http::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;
use xiaoan_domain::Role;
use xiaoan_testkit::{ADMIN, TARGET, TestApp, ids};

#[tokio::test]
async fn a_centre_officer_sees_only_their_centre_and_a_move_applies_at_once() {
    let f = TestApp::new().await;
    let t = f.tree;
    f.add_role_user("officer-a", "東區幹事", Role::CentreOfficer, t.centre_a)
        .await;
    let officer = f.token("officer-a").await;
    let admin = f.token(ADMIN).await;

    let r = f.get("/api/v1/orgs", &officer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([t.centre_a, t.school_a]),
        "{}",
        r.text()
    );
    let all = f.get("/api/v1/orgs", &admin).await;
    assert_eq!(
        ids(&all.json()).len(),
        6,
        "the admin sees the whole tree: {}",
        all.text()
    );

    assert_eq!(
        f.get(&format!("/api/v1/orgs/{}", t.school_a), &officer)
            .await
            .status,
        StatusCode::OK
    );
    let hidden = f
        .get(&format!("/api/v1/orgs/{}", t.school_b), &officer)
        .await;
    let absent = f.get("/api/v1/orgs/999999", &officer).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text());
    assert_eq!(absent.status, StatusCode::NOT_FOUND, "{}", absent.text());
    assert_eq!(
        hidden.body, absent.body,
        "out of scope must look exactly like absent"
    );
    assert_eq!(hidden.error_code(), "not_found");
    // Nor may the officer reach school B's people.
    let users = f.get("/api/v1/users", &officer).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(
        users
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["org_id"] != json!(t.school_b) && u["org_id"] != json!(t.centre_b)),
        "{}",
        users.text()
    );

    // The admin moves school B under centre A; the officer's next request sees it.
    let r = f
        .patch(
            &format!("/api/v1/orgs/{}", t.school_b),
            &admin,
            &json!({"parent_id": t.centre_a}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["parent_id"], json!(t.centre_a));
    let moved = f
        .get(&format!("/api/v1/orgs/{}", t.school_b), &officer)
        .await;
    assert_eq!(
        moved.status,
        StatusCode::OK,
        "the move did not take effect: {}",
        moved.text()
    );
    assert_eq!(moved.json()["parent_id"], json!(t.centre_a));
    let r = f.get("/api/v1/orgs", &officer).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([t.centre_a, t.school_a, t.school_b]),
        "{}",
        r.text()
    );
    // And centre B's officer would no longer see it: the admin checks via the parent filter.
    let r = f
        .get(&format!("/api/v1/orgs?parent_id={}", t.centre_b), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        ids(&r.json()).is_empty(),
        "school B still listed under centre B: {}",
        r.text()
    );
}

#[tokio::test]
async fn a_school_role_sees_only_its_school() {
    let f = TestApp::new().await;
    let t = f.tree;
    f.add_role_user("head-a", "班主任", Role::HeadTeacher, t.school_a)
        .await;
    let tok = f.token("head-a").await;
    let r = f.get("/api/v1/orgs", &tok).await;
    assert_eq!(ids(&r.json()), BTreeSet::from([t.school_a]), "{}", r.text());
    assert_eq!(
        f.get(&format!("/api/v1/orgs/{}", t.centre_a), &tok)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn moving_a_centre_moves_its_schools_along() {
    let f = TestApp::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    let bureau_body =
        json!({"kind": "bureau", "code": "BUR-2", "name": "新區教育局", "parent_id": t.bureau});
    let r = f.post("/api/v1/orgs", &admin, &bureau_body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let bureau2 = r.json()["id"].as_i64().unwrap();
    f.add_role_user("safety-2", "新區安全員", Role::BureauSafety, bureau2)
        .await;
    let watcher = f.token("safety-2").await;
    assert_eq!(
        ids(&f.get("/api/v1/orgs", &watcher).await.json()),
        BTreeSet::from([bureau2])
    );

    let r = f
        .patch(
            &format!("/api/v1/orgs/{}", t.centre_b),
            &admin,
            &json!({"parent_id": bureau2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.get("/api/v1/orgs", &watcher).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([bureau2, t.centre_b, t.school_b]),
        "the centre's school did not move with it: {}",
        r.text()
    );
    // A school cannot sit under a section, nor a node under its own descendant.
    let r = f
        .patch(
            &format!("/api/v1/orgs/{}", t.school_a),
            &admin,
            &json!({"parent_id": t.section}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "org_parent_kind");
    let r = f
        .patch(
            &format!("/api/v1/orgs/{}", t.bureau),
            &admin,
            &json!({"parent_id": bureau2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "org_parent_cycle");
    // Naming the current parent is no move at all.
    let r = f
        .patch(
            &format!("/api/v1/orgs/{bureau2}"),
            &admin,
            &json!({"parent_id": t.bureau}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.get("/api/v1/orgs", &watcher).await;
    assert_eq!(
        ids(&r.json()),
        BTreeSet::from([bureau2, t.centre_b, t.school_b])
    );
}

#[tokio::test]
async fn the_org_list_is_in_tree_order() {
    let f = TestApp::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    // Enough schools that ids reach two digits, alternating between the centres.
    for i in 0..8 {
        let parent = if i % 2 == 0 { t.centre_b } else { t.centre_a };
        let body = json!({"kind": "school", "code": format!("X-{i}"), "name": format!("學校{i}"), "parent_id": parent, "school_type": "primary"});
        let r = f.post("/api/v1/orgs", &admin, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let list = f.get("/api/v1/orgs", &admin).await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 14);
    let order: Vec<i64> = list.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    let parent: std::collections::HashMap<i64, Option<i64>> = list
        .iter()
        .map(|o| (o["id"].as_i64().unwrap(), o["parent_id"].as_i64()))
        .collect();
    let is_below = |mut node: i64, ancestor: i64| loop {
        match parent[&node] {
            Some(p) if p == ancestor => return true,
            Some(p) => node = p,
            None => return false,
        }
    };
    // Pre-order: each node comes right before its whole subtree, as one block.
    for (i, id) in order.iter().enumerate() {
        let block = order[i + 1..]
            .iter()
            .take_while(|n| is_below(**n, *id))
            .count();
        let total = order.iter().filter(|n| is_below(**n, *id)).count();
        assert_eq!(
            block, total,
            "the subtree of {id} is not listed right after it: {order:?}"
        );
        if let Some(p) = parent[id] {
            assert!(
                order[..i].contains(&p),
                "{id} listed before its parent {p}: {order:?}"
            );
        }
    }
    // Siblings come in the order they were created (2 before 10).
    for p in [t.centre_a, t.centre_b] {
        let children: Vec<i64> = order
            .iter()
            .copied()
            .filter(|n| parent[n] == Some(p))
            .collect();
        let mut sorted = children.clone();
        sorted.sort();
        assert_eq!(children, sorted, "children of {p} out of order: {order:?}");
    }
}

#[tokio::test]
async fn me_and_the_user_list_describe_accounts() {
    let f = TestApp::new().await;
    let t = f.tree;
    f.add_user(
        "two-hats",
        "兩頂帽子",
        t.school_a,
        &[
            (Role::Principal, t.school_a),
            (Role::SafetyOfficer, t.school_a),
        ],
        false,
    )
    .await;
    let tok = f.token("two-hats").await;
    let r = f.get("/api/v1/me", &tok).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let me = r.json();
    assert_eq!(me["login"], "two-hats");
    assert_eq!(me["display_name"], "兩頂帽子");
    let roles: BTreeSet<(String, i64)> = me["roles"]
        .as_array()
        .expect("roles array")
        .iter()
        .map(|r| {
            (
                r["role"].as_str().expect("role").to_string(),
                r["org_id"].as_i64().expect("org_id"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from([
            ("principal".to_string(), t.school_a),
            ("safety_officer".to_string(), t.school_a)
        ])
    );

    let admin = f.token(ADMIN).await;
    let r = f.get("/api/v1/users", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json();
    let list = list.as_array().expect("array");
    let logins: BTreeSet<&str> = list
        .iter()
        .map(|u| u["login"].as_str().expect("login"))
        .collect();
    assert_eq!(logins, BTreeSet::from([ADMIN, TARGET, "two-hats"]));
    for u in list {
        assert!(u["display_name"].is_string(), "{u}");
        assert!(u["disabled"].is_boolean(), "{u}");
        assert!(u["roles"].is_array(), "{u}");
        let text = u.to_string();
        assert!(
            !text.contains("argon2") && !text.contains("password_hash"),
            "a password hash leaked: {text}"
        );
    }
    let target = list.iter().find(|u| u["login"] == TARGET).unwrap();
    assert_eq!(target["display_name"], "王小明");
    assert_eq!(target["disabled"], false);
    assert_eq!(
        target["roles"],
        json!([{"role": "staff", "org_id": t.school_a}])
    );
    let a = list.iter().find(|u| u["login"] == ADMIN).unwrap();
    assert_eq!(
        a["roles"],
        json!([{"role": "system_admin", "org_id": t.bureau}])
    );
}
