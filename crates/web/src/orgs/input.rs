//! Org input shared by the JSON API and the pages.

use crate::kit::{AppError, AppResult};
use chrono::NaiveDate;
use xiaoan_domain::{SchoolFacts, SchoolType};

/// When changed school facts apply: from `effective_from` (default `today`, never after
/// it), or, with `correction`, as a correction of the version in force (no date then).
pub fn effective(
    effective_from: Option<&str>,
    correction: bool,
    today: NaiveDate,
) -> AppResult<(Option<NaiveDate>, bool)> {
    let day = effective_from.map(str::trim).filter(|s| !s.is_empty());
    if correction {
        if day.is_some() {
            return Err(AppError::invalid("school_facts_correction_date"));
        }
        return Ok((None, true));
    }
    let day = match day {
        Some(s) => s
            .parse::<NaiveDate>()
            .map_err(|_| AppError::invalid("school_facts_effective_date"))?,
        None => today,
    };
    if day > today {
        return Err(AppError::invalid("school_facts_effective_future"));
    }
    Ok((Some(day), false))
}

/// School facts as received; every field optional in a patch.
#[derive(Default, Clone)]
pub struct SchoolIn {
    pub school_type: Option<SchoolType>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub students: Option<i64>,
    pub staff: Option<i64>,
    pub boarding: Option<bool>,
    pub canteen: Option<bool>,
    pub buses: Option<bool>,
    pub labs: Option<bool>,
    pub special_equipment: Option<bool>,
}

impl SchoolIn {
    pub fn is_empty(&self) -> bool {
        self.school_type.is_none()
            && self.address.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.students.is_none()
            && self.staff.is_none()
            && self.boarding.is_none()
            && self.canteen.is_none()
            && self.buses.is_none()
            && self.labs.is_none()
            && self.special_equipment.is_none()
    }

    /// Applies these fields over `base` (or over an empty school when there is none).
    pub fn merge(self, base: Option<SchoolFacts>) -> Result<SchoolFacts, &'static str> {
        let school_type = match self.school_type {
            Some(t) => t,
            None => base.as_ref().map(|b| b.school_type).ok_or("school_type")?,
        };
        let b = base.unwrap_or(SchoolFacts {
            school_type,
            address: String::new(),
            latitude: None,
            longitude: None,
            students: 0,
            staff: 0,
            boarding: false,
            canteen: false,
            buses: false,
            labs: false,
            special_equipment: false,
        });
        let f = SchoolFacts {
            school_type,
            address: self
                .address
                .map(|a| a.trim().to_string())
                .unwrap_or(b.address),
            latitude: self.latitude.or(b.latitude),
            longitude: self.longitude.or(b.longitude),
            students: self.students.unwrap_or(b.students),
            staff: self.staff.unwrap_or(b.staff),
            boarding: self.boarding.unwrap_or(b.boarding),
            canteen: self.canteen.unwrap_or(b.canteen),
            buses: self.buses.unwrap_or(b.buses),
            labs: self.labs.unwrap_or(b.labs),
            special_equipment: self.special_equipment.unwrap_or(b.special_equipment),
        };
        f.validate().map_err(|_| "school_facts")?;
        Ok(f)
    }
}
