//! The hazard closed loop through the pages on a 360 px phone screen, as the demo's people
//! at one school: the staff member reports a hazard with a photo from the home page's
//! button, the safety officer registers it with the staff member as owner, the owner
//! starts and submits the rectification with an after-photo (a first try without one is
//! refused, and reloading the refusal does not post again), and the principal verifies it.

use crate::harness::{Demo, Driver, Session, browser_or_skip};
use thirtyfour::prelude::*;

const PHONE: u32 = 360;

/// A small PNG photo (a gradient, so that two of them differ) written into `dir`.
fn photo(dir: &std::path::Path, name: &str, tint: u8) -> String {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, tint])
    });
    let path = dir.join(name);
    img.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

/// What every page of the journey must be: answered without error, nothing in the console,
/// no sideways scrolling, no form token in the address.
async fn looks_right(s: &Session, step: &str) -> WebDriverResult<()> {
    let path = s.path().await?;
    let status = s.status().await?;
    assert!(status < 400, "{step}: {path} answered {status}");
    assert!(
        !path.contains("_csrf"),
        "{step}: the form token is in the address {path}"
    );
    let log = s.problems_in_log().await?;
    assert!(log.is_empty(), "{step}: {path}: console: {log:?}");
    let over = s.overflow().await?;
    assert!(
        over.is_none(),
        "{step}: {path}: {}",
        over.unwrap_or_default()
    );
    Ok(())
}

/// The form whose hidden `action` is `action`.
async fn step_form(s: &Session, action: &str) -> WebDriverResult<WebElement> {
    s.driver
        .find(By::Css(format!(
            "form:has(input[name='action'][value='{action}'])"
        )))
        .await
}

async fn submit(s: &Session, form: &WebElement) -> WebDriverResult<()> {
    let button = form
        .find(By::Css("button[type='submit'], button:not([type])"))
        .await?;
    s.click_and_wait(&button).await
}

async fn status_text(s: &Session) -> WebDriverResult<String> {
    s.driver
        .find(By::Css("section.card span.badge[class*='st-']"))
        .await?
        .text()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hazard_goes_round_the_closed_loop_on_a_phone() {
    let Some(browser) = browser_or_skip("a_hazard_goes_round_the_closed_loop_on_a_phone") else {
        return;
    };
    let demo = Demo::start(8);
    let driver = Driver::start(&browser);
    let files = tempfile::tempdir().unwrap();
    let before = photo(files.path(), "before.png", 40);
    let after = photo(files.path(), "after.png", 200);
    let base = demo.base.as_str();
    let staff = driver.session(PHONE).await;
    let safety = driver.session(PHONE).await;
    let principal = driver.session(PHONE).await;
    let outcome = async {
        for (s, role) in [
            (&staff, "staff"),
            (&safety, "safety_officer"),
            (&principal, "principal"),
        ] {
            s.sign_in(base, demo.login(role)).await?;
            let width = s.resize(PHONE).await?;
            assert_eq!(width, u64::from(PHONE), "a phone-wide window");
            looks_right(s, "signed in").await?;
        }

        // Reported from the home page's button, with a photo.
        let report = staff
            .driver
            .find(By::Css("a.button[href='/hazards/new']"))
            .await?;
        staff.click_and_wait(&report).await?;
        looks_right(&staff, "the report form").await?;
        let d = &staff.driver;
        d.find(By::Css("input[type='file'][name='photos']"))
            .await?
            .send_keys(before.as_str())
            .await?;
        d.find(By::Css("select[name='category'] option[value='buildings']"))
            .await?
            .click()
            .await?;
        d.find(By::Name("location"))
            .await?
            .send_keys("北棟二樓走廊")
            .await?;
        d.find(By::Name("title"))
            .await?
            .send_keys("欄杆鬆動")
            .await?;
        d.find(By::Name("description"))
            .await?
            .send_keys("走廊欄杆底座螺絲脫落，推動時晃動")
            .await?;
        staff.submit_form_of(By::Name("title")).await?;
        looks_right(&staff, "reported").await?;
        let at = staff.path().await?;
        let at = at.split('?').next().unwrap().to_string();
        assert!(
            at.starts_with("/hazards/"),
            "the new hazard's page, not {at}"
        );
        let page = d.find(By::Tag("main")).await?.text().await?;
        assert!(page.contains("欄杆鬆動"), "{page}");
        d.find(By::Css(".history img[src^='/attachments/']"))
            .await?;

        // Registered by the safety officer, the staff member as owner.
        safety.open(base, &at).await?;
        let form = step_form(&safety, "register").await?;
        form.find(By::Css(format!(
            "select[name='owner'] option[value='{}']",
            demo.login("staff")
        )))
        .await?
        .click()
        .await?;
        form.find(By::Name("measures"))
            .await?
            .send_keys("更換底座螺絲並加裝防鬆墊片")
            .await?;
        let deadline = form.find(By::Name("deadline")).await?;
        safety
            .driver
            .execute(
                "arguments[0].value = arguments[0].min;",
                vec![deadline.to_json()?],
            )
            .await?;
        submit(&safety, &form).await?;
        looks_right(&safety, "registered").await?;
        assert_eq!(status_text(&safety).await?, "已登記");

        // Started and submitted by the owner; first without the after-photo (as a browser
        // that does not check `required` would send it): refused, back on the hazard.
        staff.open(base, &at).await?;
        let start = step_form(&staff, "start").await?;
        submit(&staff, &start).await?;
        looks_right(&staff, "started").await?;
        let form = step_form(&staff, "submit").await?;
        form.find(By::Name("note"))
            .await?
            .send_keys("已更換螺絲")
            .await?;
        let file = form.find(By::Name("photos")).await?;
        staff
            .driver
            .execute(
                "arguments[0].removeAttribute('required');",
                vec![file.to_json()?],
            )
            .await?;
        submit(&staff, &form).await?;
        // The refused submission's page: the hazard again, saying what is missing.
        assert_eq!(staff.path().await?, at, "refused: back on the hazard");
        let said = d
            .find(By::Css("p.error[role='alert']"))
            .await?
            .text()
            .await?;
        assert!(said.contains("提交整改需附整改後照片"), "{said}");
        let note = step_form(&staff, "submit")
            .await?
            .find(By::Name("note"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(
            note.as_deref(),
            Some("已更換螺絲"),
            "what was typed is kept"
        );
        looks_right(&staff, "refused").await?;
        // Reloading shows the hazard without posting again (which would be refused again).
        staff.driver.refresh().await?;
        assert_eq!(staff.path().await?, at);
        assert!(
            d.find_all(By::Css("p.error")).await?.is_empty(),
            "a reload does not post the form again"
        );
        let form = step_form(&staff, "submit").await?;
        form.find(By::Name("note"))
            .await?
            .send_keys("已更換全部螺絲並加墊片")
            .await?;
        form.find(By::Name("photos"))
            .await?
            .send_keys(after.as_str())
            .await?;
        submit(&staff, &form).await?;
        looks_right(&staff, "submitted").await?;
        assert_eq!(status_text(&staff).await?, "待驗收");
        assert!(
            step_form(&staff, "verify").await.is_err(),
            "the rectifier is not offered verification"
        );

        // Verified by the principal.
        principal.open(base, &at).await?;
        let form = step_form(&principal, "verify").await?;
        form.find(By::Name("note"))
            .await?
            .send_keys("驗收合格")
            .await?;
        submit(&principal, &form).await?;
        looks_right(&principal, "verified").await?;
        assert_eq!(status_text(&principal).await?, "已銷賬");
        let photos = principal
            .driver
            .find_all(By::Css(".history img[src^='/attachments/']"))
            .await?;
        assert_eq!(photos.len(), 2, "the report's photo and the after-photo");
        WebDriverResult::Ok(())
    }
    .await;
    for s in [staff, safety, principal] {
        s.quit().await;
    }
    outcome.unwrap();
}
