//! The GB/T 26875.3 receiver over real TCP, on both backends: a fire alarm frame is
//! confirmed and its alarm is on the board at once; a bad checksum is denied and changes
//! nothing; noise and a length that runs past the buffer do not stop the listener; a reset
//! clears the alarm; a device whose clock is off is synchronised; an unregistered address
//! is denied.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xiaoan_domain::Scope;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{AlarmType, Condition, DeviceKind, Overrides};
use xiaoan_iot::gb26875::{self, CONFIRM, DENY, Frame, component_status, system_normal, time_tag};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, AlarmStatus, NewDevice};
use xiaoan_testkit::tree::Tree;

const SOURCE: [u8; 6] = [0, 0, 0xA1, 0xB2, 0xC3, 0xD4];

async fn answer(s: &mut tokio::net::TcpStream) -> Frame {
    answers(s, 1).await.remove(0)
}

/// The next `n` frames the receiver sends.
async fn answers(s: &mut tokio::net::TcpStream, n: usize) -> Vec<Frame> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(read > 0, "the receiver closed the connection");
        buf.extend_from_slice(&chunk[..read]);
        while let Ok((f, used)) = gb26875::parse(&buf) {
            buf.drain(..used);
            out.push(f);
            if out.len() == n {
                return out;
            }
        }
    }
}

async fn a_fire_alarm_frame_is_confirmed_and_on_the_board(db: &Db) {
    let tree = Tree::create(db).await;
    iot::create(
        db,
        &Actor::system("test"),
        &Scope::everything(),
        &NewDevice {
            school_id: tree.school_a,
            code: gb26875::hex(&SOURCE),
            kind: DeviceKind::FirePanel,
            location: "消防控制室".into(),
            key_area: String::new(),
            overrides: Overrides::default(),
            category: None,
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gb26875::serve(db.clone(), listener, 480, async move {
        let _ = stopped.await;
    }));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let now = xiaoan_domain::now_millis();
    // Noise first, then a fire alarm: confirmed, and on the board by then.
    let fire = component_status(SOURCE, 1, time_tag(now, 8), true, false);
    let mut bytes = b"\x00\x01noise".to_vec();
    bytes.extend_from_slice(&fire.encode());
    let sent = Instant::now();
    s.write_all(&bytes).await.unwrap();
    let a = answer(&mut s).await;
    assert_eq!((a.command, a.seq, a.destination), (CONFIRM, 1, SOURCE));
    let open = iot::list_alarms(db, &Scope::everything(), AlarmStatus::Active, None, 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].alarm_type, AlarmType::Fire);
    assert!(sent.elapsed() < Duration::from_secs(10));
    // A bad checksum: denied, nothing new.
    let mut bad = component_status(SOURCE, 2, time_tag(now, 8), false, true).encode();
    let n = bad.len();
    bad[n - 3] = bad[n - 3].wrapping_add(1);
    s.write_all(&bad).await.unwrap();
    let a = answer(&mut s).await;
    assert_eq!((a.command, a.seq), (DENY, 2));
    assert_eq!(
        iot::list_alarms(db, &Scope::everything(), AlarmStatus::All, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A header declaring far more data than allowed is skipped; the next frame is read.
    let mut long = component_status(SOURCE, 3, time_tag(now, 8), false, false).encode();
    long[2 + 22] = 0xFF;
    long[2 + 23] = 0xFF;
    s.write_all(&long).await.unwrap();
    s.write_all(&system_normal(SOURCE, 4, time_tag(now, 8)).encode())
        .await
        .unwrap();
    let a = answer(&mut s).await;
    assert_eq!((a.command, a.seq), (CONFIRM, 4));
    let all = iot::list_alarms(db, &Scope::everything(), AlarmStatus::All, None, 10)
        .await
        .unwrap();
    assert_eq!(
        all[0].condition,
        Condition::Cleared,
        "the reset cleared the fire alarm"
    );
    // A device whose clock is ten minutes slow: confirmed, then told the time (type 90).
    let slow = system_normal(SOURCE, 6, time_tag(now - 600_000, 8));
    s.write_all(&slow.encode()).await.unwrap();
    let two = answers(&mut s, 2).await;
    assert_eq!((two[0].command, two[0].seq), (CONFIRM, 6));
    assert_eq!(two[1].command, gb26875::CONTROL);
    assert_eq!(two[1].data[..2], [gb26875::SYNC_CLOCK, 1]);
    let told = gb26875::tag_millis(two[1].data[2..8].try_into().unwrap(), 480).unwrap();
    assert!(
        (told - xiaoan_domain::now_millis()).abs() < 5_000,
        "the receiver's time"
    );
    // An address nobody registered: denied.
    let stranger = component_status([9; 6], 5, time_tag(now, 8), true, false);
    s.write_all(&stranger.encode()).await.unwrap();
    assert_eq!(answer(&mut s).await.command, DENY);
    let _ = stop.send(());
    server.await.unwrap();
}
xiaoan_testkit::both_backends!(fire_frame, a_fire_alarm_frame_is_confirmed_and_on_the_board);
