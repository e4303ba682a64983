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
//! and gas concentrations (%LEL); type 4 (operations on the fire system, 10 bytes) and type
//! 24 (operations on the transmission device, 8 bytes) a reset (bit 0, clearing fire and
//! fault) or a manual alarm (bit 2 of type 4); type 21 (the transmission device's own
//! status, 7 bytes) fire (bit 1) and its faults (bits 2–6: fault, main and standby power,
//! the channel to the centre, the monitoring line). Other types are confirmed and not
//! stored. The device registered with kind `fire_panel` and the source address as its code
//! (12 hexadecimal digits) receives them as events and readings.
//!
//! A device whose clock (the frame's time tag, in the district's time) is more than a
//! minute off is sent, after the confirm, a control command (command 1) of type 90
//! (synchronise the clock) carrying the receiver's time.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xiaoan_domain::now_millis;
use xiaoan_store::Db;
use xiaoan_store::iot::{self, Payload, Record};

/// Command bytes.
pub const CONTROL: u8 = 1;
pub const SEND: u8 = 2;
pub const CONFIRM: u8 = 3;
pub const DENY: u8 = 6;
/// The type flag of the clock-synchronisation command.
pub const SYNC_CLOCK: u8 = 90;
/// A device clock further off than this (milliseconds) is synchronised.
pub const MAX_DRIFT_MS: i64 = 60_000;
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
        1 | 4 => 10,
        2 => 46,
        3 => 16,
        21 => 7,
        24 => 8,
        _ => return vec![],
    };
    let mut out = Vec::new();
    let mut values = Vec::new();
    let id = |n: usize, what: &str| format!("gb-{}-{}-{n}-{what}", hex(&frame.time), frame.seq);
    for n in 0..count {
        let Some(o) = d.get(2 + n * size..2 + (n + 1) * size) else {
            break;
        };
        let event = |n: usize, event: &str, active: bool| Record {
            msg_id: id(n, event),
            ts: now,
            payload: Payload::Event {
                event: event.into(),
                active,
                severity: None,
            },
        };
        match flag {
            21 => {
                // The transmission device's whole status: both events, raised or cleared.
                let status = o[0];
                out.push(event(n, "fire", status & 0b10 != 0));
                out.push(event(n, "fault", status & 0b0111_1100 != 0));
            }
            4 | 24 => {
                let ops = if flag == 4 { o[2] } else { o[0] };
                if ops & 0b1 != 0 {
                    out.push(event(n, "fire", false));
                    out.push(event(n, "fault", false));
                } else if flag == 4 && ops & 0b100 != 0 {
                    out.push(event(n, "fire", true));
                }
            }
            1 | 2 => {
                let at = if flag == 1 { 2 } else { 7 };
                let status = u16::from_le_bytes([o[at], o[at + 1]]);
                let fire = status & 0b10 != 0;
                let fault = status & 0b100 != 0;
                // A system status with neither bit is the panel back to normal (a reset).
                for (bit, name) in [(fire, "fire"), (fault, "fault")] {
                    if bit || flag == 1 {
                        out.push(event(n, name, bit));
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
/// `utc_offset_minutes` is the district's offset: what a device's time tag is read in.
pub async fn serve(
    db: Db,
    listener: TcpListener,
    utc_offset_minutes: i32,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let db = db.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(db, stream, utc_offset_minutes).await {
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

async fn connection(db: Db, mut stream: TcpStream, offset: i32) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    // The sequence numbers of the frames the receiver starts itself (clock sync).
    let mut own_seq: u16 = 0;
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
                        let now = now_millis();
                        if a.command == CONFIRM
                            && tag_millis(frame.time, offset)
                                .is_some_and(|t| (t - now).abs() > MAX_DRIFT_MS)
                        {
                            own_seq = own_seq.wrapping_add(1);
                            tracing::info!(source = %hex(&frame.source), "device clock off; synchronised");
                            stream
                                .write_all(&clock_sync(&frame, own_seq, now, offset).encode())
                                .await?;
                        }
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

/// The instant (milliseconds) of time tag `t` read at UTC + `offset_minutes`; `None` when
/// it names no date.
pub fn tag_millis(t: [u8; 6], offset_minutes: i32) -> Option<i64> {
    let day =
        chrono::NaiveDate::from_ymd_opt(2000 + i32::from(t[5]), u32::from(t[4]), u32::from(t[3]))?;
    let at = day.and_hms_opt(u32::from(t[2]), u32::from(t[1]), u32::from(t[0]))?;
    Some(at.and_utc().timestamp_millis() - i64::from(offset_minutes) * 60_000)
}

/// The clock-synchronisation command to the device that sent `to`: the receiver's time
/// `now` as the device's time tag.
pub fn clock_sync(to: &Frame, seq: u16, now: i64, offset_minutes: i32) -> Frame {
    let tag = time_tag_minutes(now, offset_minutes);
    let mut data = vec![SYNC_CLOCK, 1];
    data.extend_from_slice(&tag);
    Frame {
        seq,
        version: to.version,
        time: tag,
        source: to.destination,
        destination: to.source,
        command: CONTROL,
        data,
    }
}

/// The time tag of `at` (milliseconds, UTC + `offset_hours`): second, minute, hour, day,
/// month, year − 2000.
pub fn time_tag(at: i64, offset_hours: i32) -> [u8; 6] {
    time_tag_minutes(at, offset_hours.saturating_mul(60))
}

/// [`time_tag`] with the offset in minutes.
pub fn time_tag_minutes(at: i64, offset_minutes: i32) -> [u8; 6] {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(at + i64::from(offset_minutes) * 60_000)
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

    fn frame(data: Vec<u8>) -> Frame {
        Frame {
            seq: 1,
            version: 0x0101,
            time: time_tag(1_796_000_000_000, 8),
            source: [1; 6],
            destination: [0; 6],
            command: SEND,
            data,
        }
    }

    fn events(r: &[Record]) -> Vec<(String, bool)> {
        r.iter()
            .filter_map(|r| match &r.payload {
                Payload::Event { event, active, .. } => Some((event.clone(), *active)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn transmission_device_status_and_operations_become_events() {
        let ev = |e: &str, a| (e.to_string(), a);
        // Type 21: fire and main-power fault on the transmission device itself.
        let mut d = vec![21u8, 1, 0b1010];
        d.extend_from_slice(&[0; 6]);
        assert_eq!(
            events(&records(&frame(d), 1)),
            [ev("fire", true), ev("fault", true)]
        );
        // Type 21 back to normal monitoring: both cleared.
        let mut d = vec![21u8, 1, 0b1];
        d.extend_from_slice(&[0; 6]);
        assert_eq!(
            events(&records(&frame(d), 1)),
            [ev("fire", false), ev("fault", false)]
        );
        // Type 24: a reset on the transmission device clears fire and fault.
        let mut d = vec![24u8, 1, 0b1, 7];
        d.extend_from_slice(&[0; 6]);
        assert_eq!(
            events(&records(&frame(d), 1)),
            [ev("fire", false), ev("fault", false)]
        );
        // Type 4: a manual alarm at the fire system.
        let mut d = vec![4u8, 1, 1, 1, 0b100, 3];
        d.extend_from_slice(&[0; 6]);
        assert_eq!(events(&records(&frame(d), 1)), [ev("fire", true)]);
        // A type it does not store, and objects cut short: nothing.
        assert!(records(&frame(vec![25, 1, 1, 2]), 1).is_empty());
        assert!(records(&frame(vec![21, 3, 0b10]), 1).is_empty());
    }

    #[test]
    fn a_time_tag_reads_back_and_a_clock_sync_carries_the_time() {
        let at = 1_796_000_000_000;
        let tag = time_tag(at, 8);
        assert_eq!(tag_millis(tag, 480), Some(at - at % 1000));
        assert_eq!(tag_millis([0, 0, 0, 31, 2, 26], 480), None, "31 February");
        let f = frame(vec![]);
        let sync = clock_sync(&f, 9, at, 480);
        assert_eq!((sync.command, sync.seq), (CONTROL, 9));
        assert_eq!((sync.destination, sync.source), (f.source, f.destination));
        assert_eq!(sync.data[..2], [SYNC_CLOCK, 1]);
        assert_eq!(sync.data[2..], tag);
    }
}
