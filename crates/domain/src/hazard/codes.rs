//! The stable English codes of hazard categories, grades, sources and states.

crate::codes! {
    /// The eight inspection categories of the campaign (seed section 三(三)), plus other.
    pub enum Category {
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

crate::codes! {
    /// How serious a hazard is: 一般隱患 or 重大隱患.
    pub enum Grade {
        General => "general",
        Major => "major",
    }
}

crate::codes! {
    /// Where a hazard was found.
    pub enum Source {
        SelfInspection => "self_inspection",
        Patrol => "patrol",
        BureauInspection => "bureau_inspection",
        PublicReport => "public_report",
        DeviceAlarm => "device_alarm",
        Other => "other",
    }
}

crate::codes! {
    /// The state of a hazard in its closed loop.
    pub enum Status as HazardStatus {
        Reported => "reported",
        Registered => "registered",
        Rectifying => "rectifying",
        Submitted => "submitted",
        Closed => "closed",
        Dismissed => "dismissed",
    }
}

impl Status {
    /// The states that end the loop: closed out (銷賬) or dismissed. Every other state is open.
    pub const DONE: [Status; 2] = [Status::Closed, Status::Dismissed];

    /// The states in which work can be late: registered or being rectified. A submitted
    /// rectification waits for its check and is not the rectifier's delay.
    pub const OVERDUE_ABLE: [Status; 2] = [Status::Registered, Status::Rectifying];

    /// Whether the hazard still needs work (not closed out or dismissed).
    pub fn is_open(self) -> bool {
        !Self::DONE.contains(&self)
    }

    /// Whether a hazard in this state is late once its deadline has passed.
    pub fn can_be_overdue(self) -> bool {
        Self::OVERDUE_ABLE.contains(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        assert_eq!(Category::ALL.len(), 9);
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(c));
        }
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
        assert_eq!(Grade::from_code("major"), Some(Grade::Major));
        assert_eq!(Source::from_code("rumour"), None);
    }

    #[test]
    fn status_sets() {
        let open: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open.len(), Status::ALL.len() - Status::DONE.len());
        for s in Status::OVERDUE_ABLE {
            assert!(s.is_open() && s.can_be_overdue());
        }
        assert!(!Status::Submitted.can_be_overdue());
    }
}
