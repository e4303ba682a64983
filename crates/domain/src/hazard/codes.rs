//! The stable English codes of hazard categories, grades, sources and states.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $code:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable code used in the API, the database and translation keys.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            /// Parses a stable code.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }
        }
    };
}

codes! {
    /// The eight inspection categories of the campaign (seed section 三(三)), plus other.
    Category {
        Security => "security",
        Buildings => "buildings",
        TeachingFacilities => "teaching_facilities",
        FireHeating => "fire_heating",
        CanteenFood => "canteen_food",
        TrafficBus => "traffic_bus",
        LabChemicals => "lab_chemicals",
        Surroundings => "surroundings",
        Other => "other",
    }
}

codes! {
    /// How serious a hazard is: 一般隱患 or 重大隱患.
    Grade {
        General => "general",
        Major => "major",
    }
}

codes! {
    /// Where a hazard was found.
    Source {
        SelfInspection => "self_inspection",
        Patrol => "patrol",
        BureauInspection => "bureau_inspection",
        PublicReport => "public_report",
        DeviceAlarm => "device_alarm",
        Other => "other",
    }
}

codes! {
    /// The state of a hazard in its closed loop.
    Status {
        Reported => "reported",
        Registered => "registered",
        Rectifying => "rectifying",
        Submitted => "submitted",
        Closed => "closed",
        Dismissed => "dismissed",
    }
}

impl Status {
    /// Whether the hazard still needs work (not closed out or dismissed).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Dismissed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        assert_eq!(Category::ALL.len(), 9);
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(*c));
        }
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(*s));
        }
        assert_eq!(Grade::from_code("major"), Some(Grade::Major));
        assert_eq!(Source::from_code("rumour"), None);
    }
}
