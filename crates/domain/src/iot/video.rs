//! Video surveillance, pure: the key areas a school's cameras must cover (GB/T 29315's
//! appendix table as rules.md SEC-09 reproduces it, and the hidden spots of BUL-09), the
//! link of a camera to the police and bureau platforms (SEC-06), a school's coverage
//! computed from its camera inventory, and the severity of an alarm a video platform
//! forwards (GB/T 28181 `AlarmPriority`).

use super::Severity;
use crate::{SchoolFacts, SchoolType};
use serde::Serialize;

crate::codes! {
    /// A key area a camera can cover, in the order a coverage list reads.
    pub enum KeyArea {
        /// Outside the gate (the student gathering area at drop-off and pick-up).
        OutsideGate => "outside_gate",
        /// The main entrance: faces and plates recognisable (SEC-08).
        MainEntrance => "main_entrance",
        /// The gate room, with its one-key alarm.
        GateRoom => "gate_room",
        /// The perimeter wall or fence (recommended, not required).
        Perimeter => "perimeter",
        /// Outdoor gathering areas (playground, square).
        GatheringArea => "gathering_area",
        /// Teaching areas (corridors of teaching buildings).
        TeachingArea => "teaching_area",
        /// Hidden spots: stairwells, rooftops, storerooms (anti-bullying action).
        HiddenSpots => "hidden_spots",
        /// Dormitory main entrances.
        DormEntrance => "dorm_entrance",
        /// Dormitory corridors (recommended).
        DormCorridor => "dorm_corridor",
        /// Kindergarten activity rooms and bedrooms.
        KindergartenRooms => "kindergarten_rooms",
        /// The canteen's operation room and entrances (明廚亮灶).
        Canteen => "canteen",
        /// Hazardous-goods stores and laboratories.
        LabStore => "lab_store",
    }
}

crate::codes! {
    /// How a camera's picture reaches an outside platform.
    pub enum Link as VideoLink {
        /// Connected and confirmed working.
        Linked => "linked",
        /// Once connected, now down.
        Down => "down",
        /// Never connected.
        Never => "none",
    }
}

/// The areas a school with `facts` must have on camera ("應" in the appendix table):
/// always the gate, the entrance, the gate room, gathering and teaching areas and hidden
/// spots; dormitory entrances when it boards, kindergarten rooms for a kindergarten, the
/// canteen when it has one, stores and labs when it has labs.
pub fn required_areas(facts: &SchoolFacts) -> Vec<KeyArea> {
    let mut out = vec![
        KeyArea::OutsideGate,
        KeyArea::MainEntrance,
        KeyArea::GateRoom,
        KeyArea::GatheringArea,
        KeyArea::TeachingArea,
        KeyArea::HiddenSpots,
    ];
    if facts.boarding {
        out.push(KeyArea::DormEntrance);
    }
    if facts.school_type == SchoolType::Kindergarten {
        out.push(KeyArea::KindergartenRooms);
    }
    if facts.canteen {
        out.push(KeyArea::Canteen);
    }
    if facts.labs {
        out.push(KeyArea::LabStore);
    }
    out
}

/// What coverage needs to know of one camera in service.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraView {
    pub areas: Vec<KeyArea>,
    pub online: bool,
    pub police: Link,
    pub bureau: Link,
    /// Days its recorder keeps the video, when known.
    pub retention_days: Option<i64>,
}

/// A school's video coverage, from its cameras in service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Required areas with at least one camera.
    pub covered: Vec<KeyArea>,
    /// Required areas with none: each a hazard to rectify.
    pub gaps: Vec<KeyArea>,
    pub cameras: usize,
    pub online: usize,
    /// Cameras covering a required area that are not linked to the police platform.
    pub unlinked_police: usize,
    /// The same for the bureau's platform.
    pub unlinked_bureau: usize,
    /// Cameras on a required area whose recorder keeps video for fewer days than the
    /// district's minimum (SEC-08), when both are known.
    pub short_retention: usize,
}

impl Coverage {
    /// Every required area covered.
    pub fn complete(&self) -> bool {
        self.gaps.is_empty() && self.cameras > 0
    }

    /// Every camera on a required area linked to the police and to the bureau (SEC-06:
    /// video networked to the police 100 %).
    pub fn linked(&self) -> bool {
        self.cameras > 0 && self.unlinked_police == 0 && self.unlinked_bureau == 0
    }
}

/// The coverage of `required` areas by `cameras`, `min_retention_days` the district's
/// minimum of video kept (a plan parameter), if it sets one.
pub fn coverage(
    required: &[KeyArea],
    cameras: &[CameraView],
    min_retention_days: Option<i64>,
) -> Coverage {
    let mut c = Coverage {
        cameras: cameras.len(),
        online: cameras.iter().filter(|k| k.online).count(),
        ..Coverage::default()
    };
    for area in required {
        if cameras.iter().any(|k| k.areas.contains(area)) {
            c.covered.push(*area);
        } else {
            c.gaps.push(*area);
        }
    }
    let on_required: Vec<&CameraView> = cameras
        .iter()
        .filter(|k| k.areas.iter().any(|a| required.contains(a)))
        .collect();
    c.unlinked_police = on_required
        .iter()
        .filter(|k| k.police != Link::Linked)
        .count();
    c.unlinked_bureau = on_required
        .iter()
        .filter(|k| k.bureau != Link::Linked)
        .count();
    c.short_retention = on_required
        .iter()
        .filter(|k| matches!((k.retention_days, min_retention_days), (Some(d), Some(m)) if d < m))
        .count();
    c
}

/// The words of the hazard filed for a key area no camera covers, in the district's
/// language.
#[derive(Debug, Clone, PartialEq)]
pub struct GapWords {
    pub title: String,
    pub description: String,
    /// Where: the area's name.
    pub location: String,
    /// Who found it: the camera inventory.
    pub found_by: String,
}

/// The severity of a GB/T 28181 `AlarmPriority` (1 = 一級, the highest … 4 = 四級).
pub fn priority_severity(priority: i64) -> Option<Severity> {
    match priority {
        1 => Some(Severity::Critical),
        2 => Some(Severity::Major),
        3 => Some(Severity::Minor),
        4 => Some(Severity::Warning),
        _ => None,
    }
}

/// Parses a list of area codes (a form's checkboxes, an API array) without repeats, in
/// the order of [`KeyArea`]; `Err` names the first unknown code.
pub fn parse_areas<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<Vec<KeyArea>, String> {
    let mut out = vec![];
    for c in codes {
        let a = KeyArea::from_code(c.trim()).ok_or_else(|| c.to_string())?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out.sort_by_key(|a| KeyArea::CODES.iter().position(|c| *c == a.code()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(boarding: bool, canteen: bool, labs: bool, ty: SchoolType) -> SchoolFacts {
        SchoolFacts {
            school_type: ty,
            address: String::new(),
            latitude: None,
            longitude: None,
            students: 500,
            staff: 40,
            boarding,
            canteen,
            buses: false,
            labs,
            special_equipment: false,
        }
    }

    fn cam(areas: &[KeyArea], police: Link) -> CameraView {
        CameraView {
            areas: areas.to_vec(),
            online: true,
            police,
            bureau: Link::Linked,
            retention_days: Some(30),
        }
    }

    #[test]
    fn the_required_areas_follow_the_school() {
        let day = required_areas(&facts(false, false, false, SchoolType::Primary));
        assert_eq!(day.len(), 6);
        assert!(!day.contains(&KeyArea::DormEntrance));
        assert!(!day.contains(&KeyArea::Perimeter), "recommended only");
        let boarding = required_areas(&facts(true, true, true, SchoolType::Middle));
        for a in [KeyArea::DormEntrance, KeyArea::Canteen, KeyArea::LabStore] {
            assert!(boarding.contains(&a), "{a}");
        }
        let kg = required_areas(&facts(false, false, false, SchoolType::Kindergarten));
        assert!(kg.contains(&KeyArea::KindergartenRooms));
    }

    #[test]
    fn an_uncovered_area_is_a_gap_and_an_unlinked_camera_breaks_the_link() {
        let required = required_areas(&facts(false, true, false, SchoolType::Primary));
        let cameras = vec![
            cam(
                &[
                    KeyArea::OutsideGate,
                    KeyArea::MainEntrance,
                    KeyArea::GateRoom,
                ],
                Link::Linked,
            ),
            cam(
                &[KeyArea::GatheringArea, KeyArea::TeachingArea],
                Link::Linked,
            ),
            cam(&[KeyArea::HiddenSpots], Link::Down),
        ];
        let c = coverage(&required, &cameras, Some(30));
        assert_eq!(c.gaps, vec![KeyArea::Canteen]);
        assert_eq!(c.short_retention, 0);
        assert_eq!(coverage(&required, &cameras, Some(90)).short_retention, 3);
        assert!(!c.complete());
        assert_eq!(c.unlinked_police, 1);
        assert!(!c.linked());
        let mut all = cameras.clone();
        all[2].police = Link::Linked;
        all.push(cam(&[KeyArea::Canteen], Link::Linked));
        let c = coverage(&required, &all, None);
        assert!(c.complete() && c.linked(), "{c:?}");
        assert_eq!(c.covered.len(), required.len());
    }

    #[test]
    fn no_cameras_is_neither_complete_nor_linked() {
        let c = coverage(&[KeyArea::MainEntrance], &[], Some(30));
        assert!(!c.complete() && !c.linked());
        assert_eq!(c.gaps, vec![KeyArea::MainEntrance]);
    }

    #[test]
    fn priorities_map_to_severities_and_areas_parse_in_order() {
        assert_eq!(priority_severity(1), Some(Severity::Critical));
        assert_eq!(priority_severity(4), Some(Severity::Warning));
        assert_eq!(priority_severity(0), None);
        assert_eq!(
            parse_areas(["canteen", "outside_gate", "canteen"]),
            Ok(vec![KeyArea::OutsideGate, KeyArea::Canteen])
        );
        assert_eq!(parse_areas(["roof"]), Err("roof".to_string()));
    }
}
