//! The org form: an org's editable fields as the create and edit pages show and read them.

use super::input::SchoolIn;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::kind_label;
use crate::kit::widgets::choices;
use crate::kit::{AppState, Caller, Choice};
use serde::{Deserialize, Serialize};
use xiaoan_domain::{OrgKind, Permission, SchoolType};
use xiaoan_store::orgs::{self, Org, OrgFilter};

/// The editable fields of an org, as the form shows them.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct OrgForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub school_type: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub latitude: String,
    #[serde(default)]
    pub longitude: String,
    #[serde(default)]
    pub students: String,
    #[serde(default)]
    pub staff: String,
    pub boarding: Option<String>,
    pub canteen: Option<String>,
    pub buses: Option<String>,
    pub labs: Option<String>,
    pub special_equipment: Option<String>,
    /// The first day changed school facts apply (`YYYY-MM-DD`; blank: today).
    #[serde(default)]
    pub effective_from: String,
    /// "This corrects a mistake": the facts replace the version in force from its start.
    pub correction: Option<String>,
    /// Filled for rendering only.
    #[serde(skip)]
    pub parents: Vec<Choice>,
    #[serde(skip)]
    pub kinds: Vec<Choice>,
    #[serde(skip)]
    pub types: Vec<Choice>,
    #[serde(skip)]
    pub is_new: bool,
}

impl OrgForm {
    pub(super) fn from_org(o: &Org) -> OrgForm {
        let f = o.school.as_ref();
        let on = |b: bool| b.then(|| "on".to_string());
        OrgForm {
            kind: o.kind.code().into(),
            code: o.code.clone(),
            name: o.name.clone(),
            parent_id: o.parent_id,
            school_type: f
                .map(|f| f.school_type.code().to_string())
                .unwrap_or_default(),
            address: f.map(|f| f.address.clone()).unwrap_or_default(),
            latitude: f
                .and_then(|f| f.latitude)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            longitude: f
                .and_then(|f| f.longitude)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            students: f.map(|f| f.students.to_string()).unwrap_or_default(),
            staff: f.map(|f| f.staff.to_string()).unwrap_or_default(),
            boarding: f.and_then(|f| on(f.boarding)),
            canteen: f.and_then(|f| on(f.canteen)),
            buses: f.and_then(|f| on(f.buses)),
            labs: f.and_then(|f| on(f.labs)),
            special_equipment: f.and_then(|f| on(f.special_equipment)),
            ..OrgForm::default()
        }
    }

    /// The form as first shown: changes take effect today unless another day is chosen.
    pub(super) fn with_today(mut self, today: chrono::NaiveDate) -> OrgForm {
        if self.effective_from.is_empty() {
            self.effective_from = today.to_string();
        }
        self
    }

    /// Reads the school fields; blank numbers are refused with a message naming them.
    pub(super) fn school(&self, _caller: &Caller) -> AppResult<SchoolIn> {
        let num = |v: &str, code: &'static str| -> AppResult<Option<f64>> {
            let v = v.trim();
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| AppError::invalid(code))
            }
        };
        let int = |v: &str| -> AppResult<i64> {
            let v = v.trim();
            if v.is_empty() {
                Ok(0)
            } else {
                v.parse().map_err(|_| AppError::invalid("school_facts"))
            }
        };
        Ok(SchoolIn {
            school_type: Some(self.school_type.trim())
                .filter(|t| !t.is_empty())
                .map(crate::kit::parse_code)
                .transpose()?,
            address: Some(self.address.clone()),
            latitude: num(&self.latitude, "school_facts")?,
            longitude: num(&self.longitude, "school_facts")?,
            students: Some(int(&self.students)?),
            staff: Some(int(&self.staff)?),
            boarding: Some(self.boarding.is_some()),
            canteen: Some(self.canteen.is_some()),
            buses: Some(self.buses.is_some()),
            labs: Some(self.labs.is_some()),
            special_equipment: Some(self.special_equipment.is_some()),
        })
    }

    pub(super) async fn with_choices(
        mut self,
        st: &AppState,
        caller: &Caller,
    ) -> AppResult<OrgForm> {
        let l = caller.lang;
        let scope = caller.scope(Permission::OrgManage);
        let parents = orgs::list(&st.db, &scope, &OrgFilter::default()).await?;
        self.parents = parents
            .iter()
            .filter(|o| matches!(o.kind, OrgKind::Bureau | OrgKind::Centre))
            .map(|o| Choice {
                value: o.id.to_string(),
                label: format!("{} ({})", o.name, kind_label(l, o.kind.code())),
                selected: Some(o.id) == self.parent_id,
            })
            .collect();
        self.kinds = choices(
            &OrgKind::ALL,
            OrgKind::code,
            |k| kind_label(l, k.code()),
            OrgKind::from_code(&self.kind),
        );
        self.types = choices(
            &SchoolType::ALL,
            SchoolType::code,
            |k| kind_label(l, k.code()),
            SchoolType::from_code(&self.school_type),
        );
        Ok(self)
    }
}
