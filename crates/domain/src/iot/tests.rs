//! The rules of one reading, one event and one quiet moment.

use super::*;

fn temp() -> Threshold {
    defaults(DeviceKind::Temperature).thresholds[0]
}

#[test]
fn three_readings_above_raise_once_and_a_reading_below_the_lower_level_clears() {
    let t = temp();
    let mut s = ThresholdState::default();
    let mut verdicts = vec![];
    for v in [61.0, 62.0, 63.0, 64.0, 57.0, 56.0, 54.0, 61.0] {
        let (next, verdict) = on_reading(&t, s, v);
        s = next;
        verdicts.push(verdict);
    }
    assert_eq!(
        verdicts,
        vec![
            Verdict::Hold,
            Verdict::Hold,
            Verdict::Raise(63.0),
            Verdict::Update(64.0),
            Verdict::Hold,
            Verdict::Hold,
            Verdict::Clear,
            Verdict::Hold,
        ]
    );
}

#[test]
fn a_fast_rise_raises_and_a_levelling_off_clears() {
    let r = defaults(DeviceKind::Temperature).rises[0];
    // No earlier reading, or one too long ago: nothing to compare.
    assert_eq!(
        on_rise(&r, false, None, 60_000, 30.0),
        (false, Verdict::Hold)
    );
    assert_eq!(
        on_rise(&r, false, Some((0, 20.0)), 20 * 60_000, 80.0),
        (false, Verdict::Hold)
    );
    // 20 °C → 26 °C in 30 s is 12 °C a minute.
    assert_eq!(
        on_rise(&r, false, Some((0, 20.0)), 30_000, 26.0),
        (true, Verdict::Raise(12.0))
    );
    // 1 °C in a second is no rise to speak of.
    assert_eq!(
        on_rise(&r, false, Some((0, 20.0)), 1_000, 21.0),
        (false, Verdict::Hold)
    );
    // Still climbing at 6 °C a minute: held; at 1 °C a minute: cleared.
    assert_eq!(
        on_rise(&r, true, Some((30_000, 26.0)), 60_000, 29.0),
        (true, Verdict::Hold)
    );
    assert_eq!(
        on_rise(&r, true, Some((60_000, 29.0)), 120_000, 30.0),
        (false, Verdict::Clear)
    );
}

#[test]
fn a_dip_between_the_levels_restarts_the_count() {
    let t = temp();
    let (s, _) = on_reading(&t, ThresholdState::default(), 61.0);
    let (s, _) = on_reading(&t, s, 61.0);
    let (s, v) = on_reading(&t, s, 58.0);
    assert_eq!((s, v), (ThresholdState::default(), Verdict::Hold));
    let (s, _) = on_reading(&t, s, 61.0);
    assert_eq!(s.above, 1);
}

#[test]
fn overrides_keep_the_hysteresis_and_their_ranges() {
    let o = Overrides {
        raise_above: Some(50.0),
        clear_below: Some(52.0),
        ..Overrides::default()
    };
    assert_eq!(
        rules(DeviceKind::Temperature, &o),
        Err(OverrideError::Hysteresis)
    );
    // Lowering the raise level alone would leave the default clear level above it.
    let lower = Overrides {
        raise_above: Some(45.0),
        ..Overrides::default()
    };
    assert_eq!(
        rules(DeviceKind::Temperature, &lower),
        Err(OverrideError::Hysteresis)
    );
    let o = Overrides {
        raise_above: Some(45.0),
        clear_below: Some(40.0),
        for_readings: Some(2),
        ..Overrides::default()
    };
    let r = rules(DeviceKind::Temperature, &o).unwrap();
    assert_eq!(
        (r.thresholds[0].raise_above, r.thresholds[0].for_readings),
        (45.0, 2)
    );
    assert_eq!(
        rules(
            DeviceKind::Smoke,
            &Overrides {
                raise_above: Some(1.0),
                ..Overrides::default()
            }
        ),
        Err(OverrideError::NoThreshold)
    );
    assert_eq!(
        rules(
            DeviceKind::Smoke,
            &Overrides {
                no_data_minutes: Some(0),
                ..Overrides::default()
            }
        ),
        Err(OverrideError::Range)
    );
}

#[test]
fn quiet_devices_and_events() {
    assert!(!no_data(0, 30 * 60_000, 30));
    assert!(no_data(0, 30 * 60_000 + 1, 30));
    assert!(!no_data(0, i64::MAX, 0), "a camera is never quiet");
    assert_eq!(
        event_alarm(DeviceKind::Smoke, "smoke"),
        Some((AlarmType::Smoke, Severity::Critical))
    );
    assert_eq!(event_alarm(DeviceKind::Temperature, "smoke"), None);
    assert!(AlarmType::Smoke.makes_hazard() && !AlarmType::NoData.makes_hazard());
}
