//! `OrgId`: an organization's id as the code may use it to scope a query. It is not a `Uuid`, so
//! a function taking `(org_id: OrgId, id: Uuid)` cannot be called with the two swapped, and it
//! cannot be made from a request's input: a `Ctx` gets one from a verified token the database
//! confirmed (`confirmed`, only here in `auth`), jobs and tools read one from the
//! `organizations` table (it decodes from a row), and provisioning makes a new one (`generate`).
//! It has no `Deserialize`.

use std::fmt;

use serde::Serialize;
use sqlx::MySql;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySqlTypeInfo, MySqlValueRef};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgId(Uuid);

impl OrgId {
    /// The id of an organization the token named and the database has just confirmed.
    pub(in crate::auth) fn confirmed(id: Uuid) -> OrgId {
        OrgId(id)
    }

    /// A new organization's id (provisioning, before its row is written).
    pub fn generate() -> OrgId {
        OrgId(crate::db::new_id())
    }

    /// The all-zero id, for unit tests of code that only carries an id along.
    #[cfg(test)]
    pub fn nil_for_tests() -> OrgId {
        OrgId(Uuid::nil())
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl sqlx::Type<MySql> for OrgId {
    fn type_info() -> MySqlTypeInfo {
        <Uuid as sqlx::Type<MySql>>::type_info()
    }

    fn compatible(ty: &MySqlTypeInfo) -> bool {
        <Uuid as sqlx::Type<MySql>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, MySql> for OrgId {
    fn encode_by_ref(&self, buf: &mut Vec<u8>) -> Result<IsNull, BoxDynError> {
        <Uuid as sqlx::Encode<'q, MySql>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, MySql> for OrgId {
    fn decode(value: MySqlValueRef<'r>) -> Result<Self, BoxDynError> {
        <Uuid as sqlx::Decode<'r, MySql>>::decode(value).map(OrgId)
    }
}

impl utoipa::PartialSchema for OrgId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )))
            .into()
    }
}

impl utoipa::ToSchema for OrgId {}
