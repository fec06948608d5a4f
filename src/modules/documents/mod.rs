//! Documents (`reference/features.md` §1.9): the department's library. Folders that say who sees
//! them (everyone, leadership, chosen roles, or one member: each member's own folder), documents
//! with versions, uploads streamed to the data directory and checked by their bytes, archive,
//! and search by name and tag. Backups carry the files with the data.

pub mod api;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "documents",
    router,
    jobs: Vec::new,
    nav: &[NavEntry {
        label: "Documents",
        href: "/documents",
        needs: &[service::DOCUMENTS_VIEW],
        order: 48,
    }],
    panels: None,
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: Some(|tx, org_id| {
        Box::pin(async move { service::ensure_system_folders(tx, org_id).await })
    }),
    listeners: &[],
    feature: Some(&FEATURE),
    feed: None,
};

pub static FEATURE: Feature = Feature {
    key: "documents",
    label: "Documents",
    description: "The department's library: SOPs, policies, forms and minutes in folders that \
                  say who sees them, with versions, search, and a private folder per member.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::folders,
    api::create_folder,
    api::folder,
    api::update_folder,
    api::delete_folder,
    api::my_folder,
    api::documents,
    api::upload,
    api::document,
    api::update_document,
    api::delete_document,
    api::archive,
    api::restore,
    api::versions,
    api::add_version,
    api::download,
    api::download_version,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

/// Documents in the department's data export (the files themselves are in the backup).
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "document_folders.csv",
        about: "Every folder: name, system folder, who sees it, and the member whose own \
                folder it is.",
        sql: "SELECT f.name, f.system_key, f.visibility, u.username AS owner_username,
                     f.description, CAST(f.created_at AS CHAR) AS created_at_utc
                FROM document_folders f
                LEFT JOIN users u ON u.organization_id = f.organization_id
                                 AND u.id = f.owner_user_id
               WHERE f.organization_id = ?
               ORDER BY f.owner_user_id IS NOT NULL, f.name",
    },
    ExportSection {
        file: "documents.csv",
        about: "Every version of every document: folder, name, tags, status, version, file \
                name, type, size and SHA-256, who uploaded it and when (UTC).",
        sql: "SELECT f.name AS folder, d.name, d.tags, d.status, CAST(v.version AS CHAR) AS version,
                     v.file_name, v.content_type, CAST(v.size_bytes AS CHAR) AS size_bytes,
                     HEX(v.sha256) AS sha256, u.username AS uploaded_by,
                     CAST(v.created_at AS CHAR) AS uploaded_at_utc, v.note
                FROM document_versions v
                JOIN documents d ON d.organization_id = v.organization_id AND d.id = v.document_id
                JOIN document_folders f ON f.organization_id = d.organization_id
                                       AND f.id = d.folder_id
                LEFT JOIN users u ON u.organization_id = v.organization_id
                                 AND u.id = v.uploaded_by
               WHERE v.organization_id = ?
               ORDER BY f.name, d.name, v.version",
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_export_sections_name_their_columns() {
        for s in super::EXPORT {
            let header = crate::backup::export::header_of(s.sql, None);
            assert!(header.len() >= 3, "{}: {header:?}", s.file);
            assert!(
                header
                    .iter()
                    .all(|h| !h.is_empty() && !h.contains([' ', '(', ')', '\n'])),
                "{}: {header:?}",
                s.file
            );
        }
    }
}
