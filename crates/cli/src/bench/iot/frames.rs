//! The monitoring benchmark's GB/T 26875.3 part: frames through the TCP receiver.

use anyhow::Context;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xiaoan_domain::iot::DeviceKind;
use xiaoan_domain::{Scope, now_millis};
use xiaoan_iot::gb26875;
use xiaoan_store::Db;
use xiaoan_store::iot::{self, AlarmStatus};

async fn answer(s: &mut tokio::net::TcpStream) -> anyhow::Result<gb26875::Frame> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .context("no answer within 10 s")??;
        anyhow::ensure!(n > 0, "the receiver closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Ok((f, _)) = gb26875::parse(&buf) {
            return Ok(f);
        }
    }
}

/// GB/T 26875.3: 10 transmission devices send status frames, each waiting for its
/// confirmation; then one fire frame, timed to its alarm on the board.
pub(super) async fn run(db: &Db, school: i64, n: usize) -> anyhow::Result<()> {
    let panels = super::devices(db, school, 10, DeviceKind::FirePanel, |d| {
        format!("0000AB0000{d:02X}")
    })
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gb26875::serve(db.clone(), listener, 480, async move {
        let _ = stopped.await;
    }));
    let source = |d: usize| [0u8, 0, 0xAB, 0, 0, u8::try_from(d).unwrap_or(0)];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..panels.len() {
        let count = n / panels.len();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            let mut confirmed = 0;
            for seq in 0..count {
                let f = gb26875::system_normal(
                    source(p),
                    u16::try_from(seq).unwrap_or(0),
                    gb26875::time_tag(now_millis(), 8),
                );
                s.write_all(&f.encode()).await?;
                if answer(&mut s).await?.command == gb26875::CONFIRM {
                    confirmed += 1;
                }
            }
            Ok::<usize, anyhow::Error>(confirmed)
        }));
    }
    let mut confirmed = 0;
    for t in tasks {
        confirmed += t.await??;
    }
    let rate = confirmed as f64 / started.elapsed().as_secs_f64();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let t = Instant::now();
    let fire = gb26875::component_status(
        source(0),
        60_000,
        gb26875::time_tag(now_millis(), 8),
        true,
        false,
    );
    s.write_all(&fire.encode()).await?;
    let confirmed_in = {
        answer(&mut s).await?;
        t.elapsed().as_secs_f64() * 1000.0
    };
    let on_board = loop {
        let open = iot::list_alarms(db, &Scope::everything(), AlarmStatus::Open, None, 100).await?;
        if open.iter().any(|a| {
            a.device_id == panels[0].0.id && a.alarm_type == xiaoan_domain::iot::AlarmType::Fire
        }) {
            break t.elapsed().as_secs_f64() * 1000.0;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(10),
            "the fire alarm did not reach the board"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    println!(
        "GB/T 26875.3 receiver: {rate:.0} frames/s confirmed ({confirmed} of {n}, 10 connections, one commit each); \
         a fire frame confirmed in {confirmed_in:.1} ms and on the board in {on_board:.1} ms (the standard allows 10 s)"
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
