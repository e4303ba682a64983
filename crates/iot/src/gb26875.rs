//! GB/T 26875.3 (城市消防遠程監控系統 — 報警傳輸網絡通信協議): frames from user
//! information transmission devices (用戶信息傳輸裝置) over TCP.
//!
//! A frame is `@@`, the sequence number (2 bytes, little-endian), the protocol version (2),
//! the time tag (6: second, minute, hour, day, month, year − 2000), the source and destination
//! addresses (6 each), the length of the application data (2, little-endian), the command
//! byte, the application data, a checksum (the sum of the bytes from the sequence number to
//! the end of the data, modulo 256) and `##`. Command 2 (send data) is answered with 3
//! (confirm) once its data is stored, or 6 (deny) when its checksum is wrong.
//!
//! Application data: a type flag, an object count, then the objects. Type 1 (system status,
//! 10 bytes each) and type 2 (component status, 46 bytes each) carry status bits — bit 1
//! fire, bit 2 fault; type 3 (analog values, 16 bytes each) carries temperatures (0.1 °C)
//! and gas concentrations (%LEL). The device registered with kind `fire_panel` and the source
//! address as its code (12 hexadecimal digits) receives them as events and readings.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xiaoan_domain::now_millis;
use xiaoan_store::Db;
use xiaoan_store::iot::{self, Payload, Record};

/// Command bytes.
pub const SEND: u8 = 2;
pub const CONFIRM: u8 = 3;
pub const DENY: u8 = 6;
/// The most application data one frame may carry.
pub const MAX_DATA: usize = 4096;
const HEADER: usize = 2 + 2 + 6 + 6 + 6 + 2 + 1;

/// A frame without its start, checksum and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u16,
    pub version: u16,
    pub time: [u8; 6],
    pub source: [u8; 6],
    pub destination: [u8; 6],
    pub command: u8,
    pub data: Vec<u8>,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// More bytes are needed.
    Incomplete,
    /// Not at a `@@`: skip this many bytes to the next start (or to the end).
    Garbage(usize),
    /// The declared length is over [`MAX_DATA`]: skip the start and look again.
    TooLong,
    /// The checksum or the end marker is wrong; the frame (this many bytes) is answered with
    /// a deny.
    Checksum(u16, usize),
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

impl Frame {
    /// The frame's bytes, start to end.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(HEADER + self.data.len());
        body.extend_from_slice(&self.seq.to_le_bytes());
        body.extend_from_slice(&self.version.to_le_bytes());
        body.extend_from_slice(&self.time);
        body.extend_from_slice(&self.source);
        body.extend_from_slice(&self.destination);
        let len = u16::try_from(self.data.len()).unwrap_or(u16::MAX);
        body.extend_from_slice(&len.to_le_bytes());
        body.push(self.command);
        body.extend_from_slice(&self.data);
        let mut out = Vec::with_capacity(body.len() + 5);
        out.extend_from_slice(b"@@");
        out.extend_from_slice(&body);
        out.push(sum(&body));
        out.extend_from_slice(b"##");
        out
    }

    /// The answer to this frame: `command` (confirm or deny), the same sequence number, the
    /// addresses swapped, no data.
    pub fn answer(&self, command: u8) -> Frame {
        Frame {
            seq: self.seq,
            version: self.version,
            time: self.time,
            source: self.destination,
            destination: self.source,
            command,
            data: vec![],
        }
    }
}

/// Reads the frame at the start of `buf`; returns it and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<(Frame, usize), FrameError> {
    if buf.len() < 2 {
        return Err(FrameError::Incomplete);
    }
    if &buf[..2] != b"@@" {
        let skip = buf
            .windows(2)
            .position(|w| w == b"@@")
            .unwrap_or(buf.len() - 1);
        return Err(FrameError::Garbage(skip.max(1)));
    }
    if buf.len() < 2 + HEADER {
        return Err(FrameError::Incomplete);
    }
    let b = &buf[2..];
    let len = usize::from(u16::from_le_bytes([b[22], b[23]]));
    if len > MAX_DATA {
        return Err(FrameError::TooLong);
    }
    let total = 2 + HEADER + len + 3;
    if buf.len() < total {
        return Err(FrameError::Incomplete);
    }
    let body = &buf[2..2 + HEADER + len];
    let seq = u16::from_le_bytes([body[0], body[1]]);
    if buf[2 + HEADER + len] != sum(body) || &buf[total - 2..total] != b"##" {
        return Err(FrameError::Checksum(seq, total));
    }
    let pick = |at: usize| -> [u8; 6] {
        let mut a = [0u8; 6];
        a.copy_from_slice(&body[at..at + 6]);
        a
    };
    Ok((
        Frame {
            seq,
            version: u16::from_le_bytes([body[2], body[3]]),
            time: pick(4),
            source: pick(10),
            destination: pick(16),
            command: body[24],
            data: body[HEADER..].to_vec(),
        },
        total,
    ))
}

/// What the application data says, as records of the device (fire and fault as events,
/// analog values as readings).
pub fn records(frame: &Frame, now: i64) -> Vec<Record> {
    let d = &frame.data;
    if d.len() < 2 {
        return vec![];
    }
    let (flag, count) = (d[0], usize::from(d[1]));
    let size = match flag {
        1 => 10,
        2 => 46,
        3 => 16,
        _ => return vec![],
    };
    let mut out = Vec::new();
    let mut values = Vec::new();
    let id = |n: usize, what: &str| format!("gb-{}-{}-{n}-{what}", hex(&frame.time), frame.seq);
    for n in 0..count {
        let Some(o) = d.get(2 + n * size..2 + (n + 1) * size) else {
            break;
        };
        match flag {
            1 | 2 => {
                let at = if flag == 1 { 2 } else { 7 };
                let status = u16::from_le_bytes([o[at], o[at + 1]]);
                let fire = status & 0b10 != 0;
                let fault = status & 0b100 != 0;
                // A system status with neither bit is the panel back to normal (a reset).
                for (bit, event) in [(fire, "fire"), (fault, "fault")] {
                    if bit || flag == 1 {
                        out.push(Record {
                            msg_id: id(n, event),
                            ts: now,
                            payload: Payload::Event {
                                event: event.into(),
                                active: bit,
                                severity: None,
                            },
                        });
                    }
                }
            }
            _ => {
                let kind = o[7];
                let raw = f64::from(i16::from_le_bytes([o[8], o[9]]));
                let metric = match kind {
                    3 => ("temp_c", raw / 10.0),
                    6 => ("lel_pct", raw),
                    _ => continue,
                };
                values.push((metric.0.to_string(), metric.1));
            }
        }
    }
    if !values.is_empty() {
        out.push(Record {
            msg_id: id(0, "analog"),
            ts: now,
            payload: Payload::Telemetry(values),
        });
    }
    out
}

/// An address as the device code it is registered under (12 hexadecimal digits).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Accepts transmission devices on `listener` until `shutdown` completes.
pub async fn serve(db: Db, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let db = db.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(db, stream).await {
                            tracing::warn!(error = %e, %peer, "GB/T 26875.3 connection closed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

async fn connection(db: Db, mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // An idle device polls within 2 hours (GB 50440); a silent connection is closed then.
        let n = match tokio::time::timeout(Duration::from_secs(3 * 3600), stream.read(&mut chunk))
            .await
        {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match parse(&buf) {
                Ok((frame, used)) => {
                    buf.drain(..used);
                    let answer = handle(&db, &frame).await;
                    if let Some(a) = answer {
                        stream.write_all(&a.encode()).await?;
                    }
                }
                Err(FrameError::Incomplete) => break,
                Err(FrameError::Garbage(skip)) => {
                    tracing::warn!(bytes = skip, "bytes outside a frame skipped");
                    buf.drain(..skip.min(buf.len()));
                }
                Err(FrameError::TooLong) => {
                    tracing::warn!("a frame declares more data than allowed; skipped");
                    buf.drain(..2);
                }
                Err(FrameError::Checksum(seq, used)) => {
                    tracing::warn!(seq, "a frame with a bad checksum; denied");
                    let frame = parse_unchecked(&buf[..used]);
                    buf.drain(..used);
                    if let Some(f) = frame {
                        stream.write_all(&f.answer(DENY).encode()).await?;
                    }
                }
            }
        }
        if buf.len() > 2 * (MAX_DATA + HEADER + 5) {
            buf.clear();
        }
    }
}

/// The header of a frame whose checksum failed, to address the deny.
fn parse_unchecked(bytes: &[u8]) -> Option<Frame> {
    if bytes.len() < 2 + HEADER + 3 {
        return None;
    }
    let mut fixed = bytes.to_vec();
    let body_end = fixed.len() - 3;
    fixed[body_end] = sum(&fixed[2..body_end]);
    let end = fixed.len();
    fixed[end - 2..].copy_from_slice(b"##");
    parse(&fixed).ok().map(|(f, _)| f)
}

/// Stores what a frame says for the device of its source address; the answer to send.
async fn handle(db: &Db, frame: &Frame) -> Option<Frame> {
    if frame.command != SEND {
        // Confirmations and the like from the device need no answer.
        return None;
    }
    let code = hex(&frame.source);
    let device = match iot::fire_panel(db, &code).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            tracing::warn!(source = %code, "a frame from an unregistered transmission device; denied");
            return Some(frame.answer(DENY));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a transmission device");
            return None;
        }
    };
    let now = now_millis();
    let records = records(frame, now);
    match iot::ingest(db, &device, &records, 0, now).await {
        Ok(_) => Some(frame.answer(CONFIRM)),
        Err(e) => {
            tracing::error!(error = %e, device_id = device.id, "cannot store a frame; not confirmed");
            None
        }
    }
}

/// The time tag of `at` (milliseconds, UTC + `offset_hours`): second, minute, hour, day,
/// month, year − 2000.
pub fn time_tag(at: i64, offset_hours: i32) -> [u8; 6] {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(at + i64::from(offset_hours) * 3_600_000)
        .unwrap_or_default()
        .naive_utc();
    let b = |v: u32| u8::try_from(v).unwrap_or(0);
    [
        b(t.second()),
        b(t.minute()),
        b(t.hour()),
        b(t.day()),
        b(t.month()),
        u8::try_from(t.year() - 2000).unwrap_or(0),
    ]
}

/// A component-status frame from `source`: one component with the fire (or fault) bit.
pub fn component_status(
    source: [u8; 6],
    seq: u16,
    time: [u8; 6],
    fire: bool,
    fault: bool,
) -> Frame {
    let mut object = vec![1u8, 1, 40, 1, 0, 0, 0];
    let status: u16 = 1 | if fire { 0b10 } else { 0 } | if fault { 0b100 } else { 0 };
    object.extend_from_slice(&status.to_le_bytes());
    object.extend_from_slice(&[0u8; 31]);
    object.extend_from_slice(&[0u8; 6]);
    let mut data = vec![2u8, 1];
    data.extend_from_slice(&object);
    Frame {
        seq,
        version: 0x0101,
        time,
        source,
        destination: [0; 6],
        command: SEND,
        data,
    }
}

/// A system-status frame from `source` saying the system is normal again (a reset).
pub fn system_normal(source: [u8; 6], seq: u16, time: [u8; 6]) -> Frame {
    let mut data = vec![1u8, 1, 1, 1];
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&[0u8; 6]);
    Frame {
        seq,
        version: 0x0101,
        time,
        source,
        destination: [0; 6],
        command: SEND,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_a_broken_one_is_named() {
        let f = component_status(
            [0, 0, 0xA1, 0xB2, 0xC3, 0xD4],
            7,
            time_tag(1_796_000_000_000, 8),
            true,
            false,
        );
        let bytes = f.encode();
        assert_eq!(parse(&bytes), Ok((f.clone(), bytes.len())));
        assert_eq!(parse(&bytes[..10]), Err(FrameError::Incomplete));
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 3] = bad[n - 3].wrapping_add(1);
        assert_eq!(parse(&bad), Err(FrameError::Checksum(7, n)));
        let mut noise = b"xx".to_vec();
        noise.extend_from_slice(&bytes);
        assert_eq!(parse(&noise), Err(FrameError::Garbage(2)));
        let mut long = bytes.clone();
        long[2 + 22] = 0xFF;
        long[2 + 23] = 0xFF;
        assert_eq!(parse(&long), Err(FrameError::TooLong));
        let r = records(&f, 1);
        assert!(
            matches!(&r[0].payload, Payload::Event { event, active: true, .. } if event == "fire")
        );
        assert_eq!(hex(&f.source), "0000A1B2C3D4");
    }
}
