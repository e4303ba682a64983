//! Photo uploads through the API: metadata removed, content sniffed, downloads only for
//! those who may see them, and decodes held within the memory budget.

use crate::hazards::{jpeg_with_gps, people, upload};
use axum::http::StatusCode;
use xiaoan_testkit::{TestApp, jpeg_bytes};

#[tokio::test]
async fn a_photo_with_gps_exif_comes_back_with_none() {
    let f = TestApp::new().await;
    let p = people(&f).await;
    let src = jpeg_with_gps();
    assert!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&src))
            .is_ok()
    );
    let up = upload(&f, &p.staff, "../../etc/passwd.jpg", &src).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let id = up.json()["id"].as_i64().unwrap();
    let got = f.get(&format!("/api/v1/attachments/{id}"), &p.staff).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), Some("image/jpeg"));
    assert!(
        got.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&got.body))
            .is_err(),
        "EXIF removed"
    );
    assert!(!got.body.windows(6).any(|w| w == b"PHONEX"));
    // Someone else's unattached upload is invisible to others; a non-photo is refused.
    assert_eq!(
        f.get(&format!("/api/v1/attachments/{id}"), &p.outsider)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let svg = upload(
        &f,
        &p.staff,
        "x.jpg",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .await;
    assert_eq!(svg.status, StatusCode::BAD_REQUEST);
    assert_eq!(svg.error_code(), "photo_type");
}

/// A PNG of `w` × `h` pixels (small on disk: one colour compresses well).
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        w,
        h,
        image::Rgb([200, 30, 30]),
    ));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn photo_decodes_beyond_the_memory_budget_are_turned_away_with_retry_after() {
    let f = TestApp::with_config(xiaoan_web::WebConfig {
        photo_decode_budget_mib: 8,
        photo_decode_wait_ms: 20,
        ..Default::default()
    })
    .await;
    let p = people(&f).await;
    let photos_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    // 1500 × 1000 pixels count as about 5.7 MiB: with another decode in flight holding
    // 4 MiB of the 8, there is no room.
    let picture = png(1500, 1000);
    let in_flight = f.state.photo_decodes.reserve(4 << 20).await.unwrap();
    let r = upload(&f, &p.staff, "big.png", &picture).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error_code(), "busy");
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
    // A small photo still fits beside the decode in flight.
    let small = upload(&f, &p.staff, "small.jpg", &jpeg_bytes()).await;
    assert_eq!(small.status, StatusCode::CREATED, "{}", small.text());
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert_eq!(count, photos_before + 1, "the refused photo was not stored");
    // Once the other decode is done, the same upload goes through; so does a picture
    // larger than the whole budget, decoded alone.
    drop(in_flight);
    let r = upload(&f, &p.staff, "big.png", &picture).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = upload(&f, &p.staff, "huge.png", &png(2000, 1500)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The message is worded in the caller's language.
    let _hold = f.state.photo_decodes.reserve(8 << 20).await.unwrap();
    let r = upload(&f, &p.staff, "small.jpg", &jpeg_bytes()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("伺服器"),
        "{}",
        r.text()
    );
}
