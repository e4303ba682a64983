//! What the browser tests stand on: finding Chromium and chromedriver, the demo district
//! served by a child `xiaoan demo`, chromedriver on a free port, browser sessions with a
//! fresh profile each, and the few page actions every test needs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use thirtyfour::prelude::*;
use thirtyfour::{ChromeCapabilities, LoggingPrefsLogLevel};

/// Every demo account's password (the `demo` subcommand's default).
pub const PASSWORD: &str = "Demo-Xiaoan-2026";
/// The page session cookie's name (cookies are not `Secure` in the demo).
pub const SESSION_COOKIE: &str = "xiaoan_session";

const BIN: &str = env!("CARGO_BIN_EXE_xiaoan");

/// Where Chromium and chromedriver are.
pub struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// The first of `names` found on `PATH` (or `$var` when set).
fn find(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` after saying why the test `name` is skipped. Under
/// `CI` a missing browser fails the test instead: CI installs them, so there they must run.
pub fn browser_or_skip(name: &str) -> Option<Browser> {
    let chromedriver = find("XIAOAN_CHROMEDRIVER", &["chromedriver"]);
    // Debian's /usr/bin/chromium is a wrapper script; the browser itself is beside it.
    let chromium = find("XIAOAN_CHROMIUM", &["chromium", "chromium-browser"]).map(|p| {
        let real = Path::new("/usr/lib/chromium/chromium");
        if p == Path::new("/usr/bin/chromium") && real.is_file() {
            real.to_path_buf()
        } else {
            p
        }
    });
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Browser {
            chromium,
            chromedriver,
        }),
        (chromium, driver) => {
            let missing: Vec<&str> = [
                chromium.is_none().then_some("chromium"),
                driver.is_none().then_some("chromedriver"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let why = format!(
                "{} not installed (apt-get install -y chromium chromium-driver fonts-noto-cjk; \
                 or set XIAOAN_CHROMIUM / XIAOAN_CHROMEDRIVER)",
                missing.join(" and ")
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "browser test {name} cannot run: {why}; CI installs them, so there it must run"
            );
            // Straight to the process's stderr: the test harness would swallow an eprintln!
            // of a passing test.
            let _ = writeln!(std::io::stderr(), "browser test {name} SKIPPED: {why}");
            None
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`; panics with `what` after a long while.
fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} is not listening on port {port}");
}

/// The demo district, served by a child `xiaoan demo` until dropped.
pub struct Demo {
    child: Child,
    /// `http://127.0.0.1:PORT`, without the trailing slash.
    pub base: String,
    /// (role code, login), one per role, as the demo printed them.
    pub logins: Vec<(String, String)>,
    // Kept open: the demo may still print.
    _stdout: BufReader<ChildStdout>,
    _data: tempfile::TempDir,
}

impl Demo {
    /// Builds the district with `schools` schools in a temporary folder and serves it on a
    /// random port.
    pub fn start(schools: usize) -> Demo {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["demo", "--addr", "127.0.0.1:0", "--schools"])
            .arg(schools.to_string())
            .arg("--data")
            .arg(data.path())
            .current_dir(data.path())
            .env_remove("XIAOAN_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start xiaoan demo");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let roles = xiaoan_domain::Role::ALL.len();
        let mut base = None;
        let mut logins = Vec::new();
        let mut in_table = false;
        let mut line = String::new();
        while logins.len() < roles {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                panic!("xiaoan demo ended before printing its logins");
            }
            let l = line.trim_end();
            if let Some((_, url)) = l.split_once(" at http://") {
                base = Some(format!("http://{}", url.trim_end_matches('/')));
            } else if l.starts_with("role ") {
                in_table = true;
            } else if in_table && let Some((role, login)) = l.split_once(' ') {
                logins.push((role.to_string(), login.trim().to_string()));
            }
        }
        Demo {
            child,
            base: base.expect("the demo's URL"),
            logins,
            _stdout: out,
            _data: data,
        }
    }

    /// The demo login of the role `code`.
    pub fn login(&self, code: &str) -> &str {
        self.logins
            .iter()
            .find(|(r, _)| r == code)
            .map(|(_, l)| l.as_str())
            .unwrap_or_else(|| panic!("no demo login for {code}"))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free local port until dropped.
pub struct Driver {
    child: Child,
    port: u16,
    pub url: String,
    chromium: PathBuf,
}

impl Driver {
    pub fn start(browser: &Browser) -> Driver {
        let port = free_port();
        let mut child = Command::new(&browser.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        wait_for_port(port, "chromedriver", &mut child);
        Driver {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            chromium: browser.chromium.clone(),
        }
    }

    /// A new headless browser with a fresh profile, its window `width` px wide, its
    /// console kept for [`problems_in_log`].
    pub async fn session(&self, width: u32) -> Session {
        // A browser that fails to start on a loaded machine (chromedriver: "DevToolsActivePort
        // file doesn't exist") is started again, with a new profile, a few times.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match self.try_session(width).await {
                Ok(s) => return s,
                Err(e) => failures.push(e.to_string()),
            }
        }
        panic!("no browser session: {failures:#?}");
    }

    async fn try_session(&self, width: u32) -> WebDriverResult<Session> {
        let profile = tempfile::tempdir().unwrap();
        let mut caps = ChromeCapabilities::new();
        caps.set_binary(self.chromium.to_str().unwrap()).unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        caps.add_arg(&format!("--window-size={width},900")).unwrap();
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .unwrap();
        let driver = WebDriver::new(&self.url, caps).await?;
        Ok(Session {
            driver,
            _profile: profile,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver closes its browsers when asked to shut down; a kill would leave them.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser; call [`Session::quit`] when done.
pub struct Session {
    pub driver: WebDriver,
    _profile: tempfile::TempDir,
}

impl Session {
    pub async fn quit(self) {
        let _ = self.driver.quit().await;
    }

    /// Opens `path` (or a full URL) and returns the HTTP status of the document.
    pub async fn open(&self, base: &str, path: &str) -> WebDriverResult<u16> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{base}{path}")
        };
        self.driver.goto(url).await?;
        self.status().await
    }

    /// The HTTP status of the current document (Navigation Timing).
    pub async fn status(&self) -> WebDriverResult<u16> {
        let r = self
            .driver
            .execute(
                "const n = performance.getEntriesByType('navigation')[0]; \
                 return n ? n.responseStatus : 0;",
                Vec::new(),
            )
            .await?;
        Ok(r.json().as_u64().unwrap_or(0) as u16)
    }

    /// The path and query of the current page.
    pub async fn path(&self) -> WebDriverResult<String> {
        let u = self.driver.current_url().await?;
        Ok(match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
    }

    /// Signs in through the login page; ends on the page the login form leads to.
    pub async fn sign_in(&self, base: &str, login: &str) -> WebDriverResult<()> {
        self.open(base, "/login").await?;
        self.driver
            .find(By::Name("login"))
            .await?
            .send_keys(login)
            .await?;
        self.driver
            .find(By::Name("password"))
            .await?
            .send_keys(PASSWORD)
            .await?;
        self.submit_form_of(By::Name("password")).await?;
        let path = self.path().await?;
        assert!(
            !path.starts_with("/login"),
            "{login} could not sign in: still on {path}"
        );
        Ok(())
    }

    /// Clicks the submit button of the form holding the element `inside` and waits for
    /// the next page.
    pub async fn submit_form_of(&self, inside: By) -> WebDriverResult<()> {
        let field = self.driver.find(inside).await?;
        let button = field
            .find(By::XPath(
                "ancestor::form//button[@type='submit' or not(@type)]",
            ))
            .await?;
        self.click_and_wait(&button).await
    }

    /// Clicks `el` and waits until the page it leads to has loaded.
    pub async fn click_and_wait(&self, el: &WebElement) -> WebDriverResult<()> {
        let marker = self
            .driver
            .execute("return String(performance.timeOrigin);", Vec::new())
            .await?
            .json()
            .clone();
        el.click().await?;
        for _ in 0..300 {
            let now = self
                .driver
                .execute(
                    "return document.readyState === 'complete' ? String(performance.timeOrigin) : null;",
                    Vec::new(),
                )
                .await;
            if let Ok(v) = now
                && !v.json().is_null()
                && *v.json() != marker
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page after a click");
    }

    /// The session cookie, for checking links over plain HTTP as the same user.
    pub async fn session_cookie(&self) -> WebDriverResult<String> {
        Ok(self.driver.get_named_cookie(SESSION_COOKIE).await?.value)
    }

    /// Errors in the browser's console since the last call: failed loads, script errors
    /// and Content-Security-Policy violations.
    pub async fn problems_in_log(&self) -> WebDriverResult<Vec<String>> {
        let entries = self.driver.browser_log().await?;
        Ok(entries
            .into_iter()
            .filter(|e| e.level == "SEVERE" || e.message.contains("Content Security Policy"))
            .map(|e| e.message)
            .collect())
    }

    /// Makes the window `width` px wide; the page's own width (innerWidth) after it.
    pub async fn resize(&self, width: u32) -> WebDriverResult<u64> {
        self.driver.set_window_rect(0, 0, width, 900).await?;
        let r = self
            .driver
            .execute("return window.innerWidth;", Vec::new())
            .await?;
        Ok(r.json().as_u64().unwrap_or(0))
    }

    /// `None` when the page fits its window; else how wide it is and the outermost
    /// elements that stick out.
    pub async fn overflow(&self) -> WebDriverResult<Option<String>> {
        let r = self
            .driver
            .execute(
                r"
                const w = window.innerWidth, sw = document.documentElement.scrollWidth;
                if (sw <= w + 1) return null;
                const describe = (e) => e.tagName.toLowerCase()
                    + (e.id ? '#' + e.id : '')
                    + (e.classList.length ? '.' + [...e.classList].join('.') : '');
                const out = [];
                for (const e of document.body.querySelectorAll('*')) {
                    const r = e.getBoundingClientRect();
                    const p = e.parentElement && e.parentElement.getBoundingClientRect();
                    if (r.width > 0 && r.right > w + 1 && !(p && p.right > w + 1)) {
                        const path = [];
                        for (let x = e; x && x !== document.body; x = x.parentElement) path.unshift(describe(x));
                        out.push(path.join(' > ') + ' (right edge ' + Math.round(r.right) + ' px)');
                        if (out.length >= 3) break;
                    }
                }
                return 'page is ' + sw + ' px wide in a ' + w + ' px window: ' + out.join('; ');
                ",
                Vec::new(),
            )
            .await?;
        Ok(r.json().as_str().map(str::to_string))
    }
    /// What a phone user would trip over on the page now open (at phone width): a header
    /// taller than one row, a touch target under 44 px, a table cell squeezed narrower than
    /// three characters, and the same with the navigation menu opened.
    pub async fn phone_problems(&self) -> WebDriverResult<Vec<String>> {
        let r = self
            .driver
            .execute(
                r"
                const out = [];
                const describe = (e) => e.tagName.toLowerCase()
                    + (e.classList.length ? '.' + [...e.classList].join('.') : '')
                    + ' «' + (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 24) + '»';
                const shown = (e) => {
                    const r = e.getBoundingClientRect();
                    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
                };
                const targets = 'button, .button, select, textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
                    + ' .tabs a, .pager a, .nav a, .langs a, .menu-toggle, .fold-toggle, a.tile, label:has(> input[type=checkbox]), label:has(> input[type=radio])';
                const small = () => {
                    for (const e of document.querySelectorAll(targets)) {
                        if (!shown(e)) continue;
                        const h = e.getBoundingClientRect().height;
                        if (h < 43.5) out.push('a touch target ' + Math.round(h) + ' px tall: ' + describe(e));
                    }
                };
                const header = document.querySelector('header.top');
                if (header && header.getBoundingClientRect().height > 64)
                    out.push('the header is ' + Math.round(header.getBoundingClientRect().height) + ' px tall');
                small();
                for (const c of document.querySelectorAll('td, th')) {
                    if (!shown(c) || c.innerText.trim().length < 3) continue;
                    const w = c.getBoundingClientRect().width;
                    if (w < 40) out.push('a table cell ' + Math.round(w) + ' px wide: ' + describe(c));
                }
                const toggle = document.querySelector('.menu-toggle');
                if (toggle && shown(toggle)) {
                    toggle.click();
                    const links = [...document.querySelectorAll('.nav a')];
                    if (links.length && !links.every(shown)) out.push('the opened menu does not show its links');
                    small();
                    if (document.documentElement.scrollWidth > window.innerWidth + 1)
                        out.push('the opened menu makes the page scroll sideways');
                    toggle.click();
                }
                return [...new Set(out)].slice(0, 12);
                ",
                Vec::new(),
            )
            .await?;
        r.convert()
    }
}
