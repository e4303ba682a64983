//! Every demo role, signed in through the login page, walks the pages linked from the
//! navigation and the home page (breadth first, bounded) at 1280 px and at 360 px. A page
//! fails on: a link it shows that answers an error, an error in the browser's console
//! (failed loads, script errors, Content-Security-Policy violations), sideways scrolling,
//! keys, codes or placeholders shown instead of words, a form token in a form's address, and
//! on a phone a header over one row, touch targets under 44 px and squeezed table cells.

use crate::harness::{Demo, Driver, Session, browser_or_skip};
use crate::words::Words;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use thirtyfour::prelude::WebDriverResult;

const WIDE: u32 = 1280;
const PHONE: u32 = 360;
/// Pages visited per role.
const PAGES_PER_ROLE: usize = 45;
/// Pages visited per shape of address (`/hazards/N`, `/compliance?period&task`): enough to
/// see each kind of page with different data, not every hazard.
const PER_SHAPE: usize = 2;
/// Pages visited per folder (`/users/*`: accounts are named, not numbered).
const PER_FOLDER: usize = 4;
/// Links checked over HTTP per shape of address (a list of a hundred hazards is checked
/// through a few of them).
const CHECKED_PER_SHAPE: usize = 4;
/// Roles walked at the same time (each in its own browser).
const PARALLEL: usize = 3;
/// Link checks of one role in flight at once.
const CHECKS_IN_FLIGHT: usize = 4;

/// Links the walk does not follow: they sign out, download a file, switch the language,
/// or are not pages.
fn not_followed(path: &str) -> bool {
    let p = path.split('?').next().unwrap_or("");
    p == "/logout"
        || p.starts_with("/api/")
        || p.starts_with("/static/")
        || p.starts_with("/attachments/")
        || p.contains("export")
        || p.contains("download")
        || p.ends_with(".xlsx")
        || p.ends_with(".csv")
        || path.contains("lang=")
        || path.contains("format=")
}

/// Links not even checked over HTTP: they sign out or produce a document.
fn not_checked(path: &str) -> bool {
    let p = path.split('?').next().unwrap_or("");
    p == "/logout" || p.contains("export") || p.contains("download") || path.contains("format=")
}

/// `/users/admin?x=1` → `/users/*?x`; `None` for the top-level pages (the navigation's).
fn folder(path: &str) -> Option<String> {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let parent = p.rsplit_once('/').map_or("", |(parent, _)| parent);
    (!parent.is_empty()).then(|| shape(&format!("{parent}/*?{q}")))
}

/// `/hazards/12?status=x&view=y` → `/hazards/N?status&view`.
fn shape(path: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let p: Vec<String> = p
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "N".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    let mut keys: Vec<&str> = q
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    format!("{}?{}", p.join("/"), keys.join("&"))
}

struct Walk<'a> {
    base: &'a str,
    role: &'a str,
    words: &'a Words,
    problems: Vec<String>,
}

impl Walk<'_> {
    fn problem(&mut self, page: &str, what: String) {
        self.problems.push(format!("{} {page}: {what}", self.role));
    }

    /// The checks of the page now open, at both widths; returns the same-origin links it
    /// shows (path and query).
    async fn check_page(&mut self, s: &Session, page: &str) -> WebDriverResult<Vec<String>> {
        for p in s.problems_in_log().await? {
            self.problem(page, format!("console: {p}"));
        }
        if let Some(o) = s.overflow().await? {
            self.problem(page, format!("at {WIDE} px {o}"));
        }
        let seen: (String, Vec<String>, Vec<String>, Vec<String>) = s
            .driver
            .execute(
                "return [document.body.innerText, \
                 [...document.querySelectorAll('code, kbd, samp')].map(e => e.innerText), \
                 [...document.querySelectorAll('a[href]')].map(a => a.href), \
                 [...document.querySelectorAll('form')].map(f => f.getAttribute('action') || '')];",
                Vec::new(),
            )
            .await?
            .convert()?;
        let (text, literal, hrefs, actions) = seen;
        for a in actions.iter().filter(|a| a.contains("_csrf")) {
            self.problem(page, format!("a form posts its token in the address: {a}"));
        }
        for w in self.words.untranslated(&text, &literal) {
            self.problem(page, format!("shows {w}"));
        }
        let width = s.resize(PHONE).await?;
        if width == u64::from(PHONE) {
            if let Some(o) = s.overflow().await? {
                self.problem(page, format!("at {PHONE} px {o}"));
            }
            for p in s.phone_problems().await? {
                self.problem(page, format!("at {PHONE} px {p}"));
            }
        } else {
            self.problem(page, format!("the window is {width} px wide, not {PHONE}"));
        }
        s.resize(WIDE).await?;
        let links = hrefs
            .into_iter()
            .filter_map(|h| {
                let rest = h.strip_prefix(self.base)?;
                let rest = rest.split('#').next().unwrap_or("");
                rest.starts_with('/').then(|| rest.to_string())
            })
            .collect();
        Ok(links)
    }
}

/// The status of `GET path` for the holder of the session `cookie` (redirects followed).
async fn status_of(http: &reqwest::Client, base: &str, path: &str, cookie: &str) -> u16 {
    match http
        .get(format!("{base}{path}"))
        .header(
            "cookie",
            format!("{}={cookie}", crate::harness::SESSION_COOKIE),
        )
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 599,
    }
}

async fn walk_role(
    driver: Arc<Driver>,
    base: String,
    (role, login, lang): (String, String, &'static str),
    words: Arc<Words>,
) -> (Vec<String>, usize) {
    let started = std::time::Instant::now();
    let s = driver.session(WIDE).await;
    let role = format!("{role} [{lang}]");
    let mut w = Walk {
        base: &base,
        role: &role,
        words: &words,
        problems: Vec::new(),
    };
    let visited = walk(&s, &mut w, &login, lang).await;
    let visited = match visited {
        Ok(n) => n,
        Err(e) => {
            w.problems.push(format!("{role}: the browser failed: {e}"));
            0
        }
    };
    s.quit().await;
    eprintln!(
        "browser sweep: {role} ({login}): {visited} pages, {} problems, {:.0?}",
        w.problems.len(),
        started.elapsed()
    );
    (w.problems, visited)
}

async fn walk(s: &Session, w: &mut Walk<'_>, login: &str, lang: &str) -> WebDriverResult<usize> {
    s.open(w.base, &format!("/login?lang={lang}")).await?;
    w.check_page(s, "/login").await?;
    s.sign_in(w.base, login).await?;
    let cookie = s.session_cookie().await?;
    let http = reqwest::Client::new();
    let mut queue: VecDeque<(String, String)> = VecDeque::from([("/".to_string(), String::new())]);
    let mut queued: HashSet<String> = HashSet::from(["/".to_string()]);
    let mut checked: HashSet<String> = HashSet::new();
    let mut shapes: HashMap<String, usize> = HashMap::new();
    let mut folders: HashMap<String, usize> = HashMap::new();
    let mut checked_shapes: HashMap<String, usize> = HashMap::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(CHECKS_IN_FLIGHT));
    let mut visited = 0;
    while let Some((page, from)) = queue.pop_front() {
        if visited >= PAGES_PER_ROLE {
            break;
        }
        visited += 1;
        let status = s.open(w.base, &page).await?;
        if status >= 400 {
            w.problem(&page, format!("answers {status} (linked from {from})"));
        }
        let links = w.check_page(s, &page).await?;
        let mut new: Vec<String> = Vec::new();
        for l in links {
            if !not_checked(&l) && !checked.contains(&l) {
                let n = checked_shapes.entry(shape(&l)).or_default();
                if *n < CHECKED_PER_SHAPE {
                    *n += 1;
                    checked.insert(l.clone());
                    new.push(l.clone());
                }
            }
            if not_followed(&l) || queued.contains(&l) {
                continue;
            }
            let (by_shape, by_folder) = (shape(&l), folder(&l));
            if shapes.get(&by_shape).copied().unwrap_or(0) < PER_SHAPE
                && by_folder
                    .as_ref()
                    .is_none_or(|f| folders.get(f).copied().unwrap_or(0) < PER_FOLDER)
            {
                *shapes.entry(by_shape).or_default() += 1;
                if let Some(f) = by_folder {
                    *folders.entry(f).or_default() += 1;
                }
                queued.insert(l.clone());
                queue.push_back((l, page.clone()));
            }
        }
        // The links this page shows, over plain HTTP as the same user.
        let mut set = tokio::task::JoinSet::new();
        for l in new {
            let (http, base, cookie) = (http.clone(), w.base.to_string(), cookie.clone());
            let gate = gate.clone();
            set.spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                (status_of(&http, &base, &l, &cookie).await, l)
            });
        }
        while let Some(r) = set.join_next().await {
            let (status, l) = r.unwrap();
            if status >= 400 {
                w.problem(&page, format!("links to {l}, which answers {status}"));
            }
        }
    }
    Ok(visited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_sees_working_pages_at_desktop_and_phone_widths() {
    let Some(browser) =
        browser_or_skip("every_role_sees_working_pages_at_desktop_and_phone_widths")
    else {
        return;
    };
    let started = std::time::Instant::now();
    let demo = Demo::start(24);
    let driver = Arc::new(Driver::start(&browser));
    let words = Arc::new(Words::load());
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut set = tokio::task::JoinSet::new();
    // XIAOAN_BROWSER_ROLES=principal,staff walks only those roles (while fixing a page).
    let only = std::env::var("XIAOAN_BROWSER_ROLES").ok();
    // Every other role reads the pages in English (longer words, other wrapping); the rest
    // in Traditional Chinese, the default.
    let roles: Vec<(String, String, &'static str)> = demo
        .logins
        .iter()
        .enumerate()
        .filter(|(_, (r, _))| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == r)))
        .map(|(i, (r, l))| {
            (
                r.clone(),
                l.clone(),
                if i % 2 == 1 { "en" } else { "zh-TW" },
            )
        })
        .collect();
    let walked = roles.len();
    for who in roles {
        let (driver, base, words, gate) = (
            driver.clone(),
            demo.base.clone(),
            words.clone(),
            gate.clone(),
        );
        set.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            walk_role(driver, base, who, words).await
        });
    }
    let mut problems = Vec::new();
    let mut pages = 0;
    while let Some(r) = set.join_next().await {
        let (p, n) = r.unwrap();
        problems.extend(p);
        pages += n;
    }
    drop(driver);
    drop(demo);
    eprintln!(
        "browser sweep: {pages} pages for {walked} roles in {:.0?}",
        started.elapsed()
    );
    // The same defect on many pages is reported once, with how many pages show it.
    let mut grouped: BTreeMap<String, usize> = BTreeMap::new();
    for p in problems {
        *grouped.entry(p).or_default() += 1;
    }
    let report: Vec<String> = grouped
        .into_iter()
        .map(|(p, n)| if n > 1 { format!("{p} (×{n})") } else { p })
        .collect();
    assert!(
        report.is_empty(),
        "{} problems:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn addresses_are_grouped_by_shape() {
    assert_eq!(
        shape("/hazards/12?view=open&status=x"),
        "/hazards/N?status&view"
    );
    assert_eq!(
        shape("/hazards/7?status=y&view=z"),
        "/hazards/N?status&view"
    );
    assert_eq!(shape("/"), "/?");
    assert_eq!(folder("/users/admin"), folder("/users/s001.staff"));
    assert_ne!(folder("/users/admin"), folder("/orgs/1"));
    assert_eq!(folder("/orgs"), None);
    assert!(not_followed("/hazards/export?scope=district"));
    assert!(not_followed("/?lang=en"));
    assert!(!not_followed("/hazards?view=open"));
}
