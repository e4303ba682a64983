//! Email against a real SMTP server: Python's aiosmtpd writing what it receives to a maildir,
//! read back and decoded with Python's email package.
//!
//! Needs `python3` with `aiosmtpd` (Debian: `apt-get install python3-aiosmtpd`); without it
//! the test fails and says so. `XIAOAN_TEST_PYTHON` names the interpreter to use.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use xiaoan_notify::{ChannelConfig, ChannelKind, Message, Sender, SmtpSecurity, SmtpSettings};

/// An interpreter that can import aiosmtpd, or a failure that says how to get one.
fn python_with_aiosmtpd() -> String {
    let mut candidates: Vec<String> = std::env::var("XIAOAN_TEST_PYTHON").into_iter().collect();
    candidates.extend(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
    for candidate in &candidates {
        let imports = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if imports {
            return candidate.clone();
        }
    }
    panic!(
        "the email test needs Python 3 with aiosmtpd (tried {candidates:?}); install it with \
         `apt-get install python3-aiosmtpd` or `pip install aiosmtpd`, or point \
         XIAOAN_TEST_PYTHON at an interpreter that has it"
    );
}

/// The SMTP server process; killed when the test ends, however it ends.
struct SmtpServer {
    child: Child,
    addr: SocketAddr,
    stderr: PathBuf,
}

impl SmtpServer {
    fn start(python: &str, maildir: &Path, log_dir: &Path) -> Self {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stderr = log_dir.join("aiosmtpd.log");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut server = SmtpServer {
            child,
            addr,
            stderr,
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "aiosmtpd exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {} within 20 s:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages in the maildir, decoded by Python's email package.
fn delivered(python: &str, maildir: &Path) -> Vec<Value> {
    const DECODE: &str = r#"
import email, email.policy, json, sys
with open(sys.argv[1], "rb") as f:
    raw = f.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
print(json.dumps({
    "subject": str(msg["subject"]),
    "from": str(msg["from"]),
    "to": str(msg["to"]),
    "rcpt_to": msg["X-RcptTo"],
    "mail_from": msg["X-MailFrom"],
    "content_type": msg.get_content_type(),
    "charset": msg.get_content_charset(),
    "body": msg.get_content(),
    "raw_is_ascii": all(b < 128 for b in raw),
}))
"#;
    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let output = Command::new(python)
                .args(["-c", DECODE])
                .arg(file)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "decoding {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            serde_json::from_slice(&output.stdout).unwrap()
        })
        .collect()
}

fn settings(addr: SocketAddr) -> SmtpSettings {
    SmtpSettings {
        host: addr.ip().to_string(),
        port: addr.port(),
        from: "校安通知 <noreply@xiaoan.example>".to_owned(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn email_arrives_with_chinese_subject_and_body_intact() {
    let python = python_with_aiosmtpd();
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let server = SmtpServer::start(&python, &maildir, dir.path());

    let sender = Sender::new(Some(settings(server.addr)), Duration::from_secs(5));
    let config = ChannelConfig {
        kind: ChannelKind::Email,
        target: "safety@school.example; head@school.example".to_owned(),
        secret: None,
    };
    let message = Message {
        title: "校安：隱患已逾期".to_owned(),
        body: "校安：隱患已逾期\n三樓走廊滅火器過期，請於今日內處理。".to_owned(),
        link: Some("https://xiaoan.example/hazards/42".to_owned()),
        event: "hazard.overdue".to_owned(),
        urgent: true,
        id: "delivery-42".to_owned(),
    };
    let outcome = sender.send(&config, &message, 1_750_000_000_000).await;
    assert!(outcome.ok, "{outcome:?}\n{}", server.log());
    assert_eq!(outcome.status, Some(250));
    assert_eq!(outcome.error, None);

    let mails = delivered(&python, &maildir);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["subject"], "校安：隱患已逾期");
    assert_eq!(mail["from"], "校安通知 <noreply@xiaoan.example>");
    assert_eq!(mail["mail_from"], "noreply@xiaoan.example");
    assert_eq!(mail["to"], "safety@school.example, head@school.example");
    assert_eq!(
        mail["rcpt_to"],
        "safety@school.example, head@school.example"
    );
    assert_eq!(mail["content_type"], "text/plain");
    assert_eq!(mail["charset"], "utf-8");
    // The server did not offer SMTPUTF8, so everything on the wire must be encoded.
    assert_eq!(mail["raw_is_ascii"], true);
    let body = mail["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(
        body.trim_end(),
        "校安：隱患已逾期\n三樓走廊滅火器過期，請於今日內處理。\n\nhttps://xiaoan.example/hazards/42"
    );
    drop(server);
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_failure() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sender = Sender::new(
        Some(settings(SocketAddr::from(([127, 0, 0, 1], port)))),
        Duration::from_secs(5),
    );
    let config = ChannelConfig {
        kind: ChannelKind::Email,
        target: "safety@school.example".to_owned(),
        secret: None,
    };
    let message = Message {
        title: "t".to_owned(),
        body: "b".to_owned(),
        link: None,
        event: "e".to_owned(),
        urgent: false,
        id: "delivery-1".to_owned(),
    };
    let outcome = sender.send(&config, &message, 0).await;
    assert!(!outcome.ok, "{outcome:?}");
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.starts_with("smtp:")),
        "{outcome:?}"
    );
}
