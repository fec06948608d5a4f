//! Inventory, the quartermaster's module (`reference/features.md` §1.7): categories and items
//! (one of a kind, or a stock of units), who holds what (checkouts due back, assignments,
//! units issued within an allowance), inspections with the next due date, the due-list, QR
//! labels, and a daily job for overdue checkouts and low stock.

pub mod api;
pub mod import;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Listener, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "inventory",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Equipment",
        href: "/inventory",
        needs: &[service::INVENTORY_VIEW],
        order: 40,
    }],
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: None,
    listeners: &[Listener {
        event: crate::members::service::MEMBER_LEFT,
        run: |ctx, tx, member| Box::pin(service::clearance::on_member_left(ctx, tx, member)),
    }],
    feature: Some(&FEATURE),
    feed: None,
};

pub static FEATURE: Feature = Feature {
    key: "inventory",
    label: "Equipment",
    description: "Gear and equipment: who holds what, checkouts and overdue alerts, inspections \
                  due, labels.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::item_documents,
    api::attach_item_document,
    api::item_document_file,
    api::detach_item_document,
    api::categories,
    api::create_category,
    api::update_category,
    api::allowance,
    api::set_allowance,
    api::items,
    api::create_item,
    api::item,
    api::update_item,
    api::history,
    api::check_out,
    api::check_in,
    api::extend,
    api::assign,
    api::unassign,
    api::issue,
    api::return_issuance,
    api::checkouts,
    api::lookup,
    api::maintenance_records,
    api::record_maintenance,
    api::due,
    api::holdings,
    api::clearances,
    api::start_clearance,
    api::clearance,
    api::resolve_line,
    api::close_clearance,
    import::api_import,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router()
        .merge(import::router())
        .merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![
    crate::module::only_when_on(
        &FEATURE,
        crate::jobs::JobDef::new(
            jobs::JOB,
            "Overdue equipment and low stock",
            "Tells each member whose checkout is past due, and the quartermasters, once a day \
             until it is back; tells the quartermasters which stock items are at their \
             reorder point; and reminds a member who left with equipment still out, and the \
             quartermasters, 30 and 90 days after their clearance began.",
            "0 0 7 * * *",
            jobs::run,
        ),
    ),
    crate::module::only_when_on(
        &FEATURE,
        crate::jobs::JobDef::new(
            jobs::MONTHLY_JOB,
            "Equipment due this month",
            "On the first of the month, sends the quartermasters the month's due-list: NFPA \
             inspections and tests by each item's cycle (PPE advanced inspection, SCBA flow \
             test, hose service test…), service lives that end (turnout gear 10 years, \
             cylinders 15), overdue ones included.",
            "0 0 7 1 * *",
            jobs::run_monthly,
        ),
    )]
}

/// Inventory's files in the department's data export.
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "inventory_items.csv",
        about: "Every item: number, barcode, category, serial number, asset tag, condition, \
                status, holder, quantities, purchase and replacement value, next inspection.",
        sql: "SELECT CAST(i.item_number AS CHAR) AS item_number, i.barcode, i.name,
                     c.name AS category, i.tracking_type, i.serial_number, i.asset_tag,
                     i.manufacturer, i.model, i.`condition` AS item_condition, i.status,
                     CONCAT(h.first_name, ' ', h.last_name) AS holder,
                     CAST(i.quantity AS CHAR) AS quantity,
                     CAST(i.quantity_issued AS CHAR) AS quantity_issued,
                     CAST(i.purchase_date AS CHAR) AS purchase_date,
                     CAST(i.purchase_price AS CHAR) AS purchase_price,
                     CAST(i.replacement_cost AS CHAR) AS replacement_cost,
                     CAST(i.manufactured_date AS CHAR) AS manufactured_date,
                     CAST(i.next_inspection_due AS CHAR) AS next_inspection_due
                FROM inventory_items i
                LEFT JOIN inventory_categories c
                       ON c.organization_id = i.organization_id AND c.id = i.category_id
                LEFT JOIN users h ON h.organization_id = i.organization_id AND h.id = i.holder_id
               WHERE i.organization_id = ?
               ORDER BY i.item_number",
    },
    ExportSection {
        file: "inventory_checkouts.csv",
        about: "Every checkout: item, member, out, due back, in, conditions, damage notes.",
        sql: "SELECT i.barcode, i.name AS item, u.username,
                     CONCAT(u.first_name, ' ', u.last_name) AS member,
                     CAST(ck.checked_out_at AS CHAR) AS checked_out_at,
                     CAST(ck.expected_return_at AS CHAR) AS expected_return_at,
                     CAST(ck.checked_in_at AS CHAR) AS checked_in_at, ck.checkout_condition,
                     ck.return_condition, ck.damage_notes
                FROM inventory_checkouts ck
                JOIN inventory_items i ON i.organization_id = ck.organization_id AND i.id = ck.item_id
                JOIN users u ON u.organization_id = ck.organization_id AND u.id = ck.user_id
               WHERE ck.organization_id = ?
               ORDER BY ck.checked_out_at, i.barcode",
    },
    ExportSection {
        file: "inventory_maintenance.csv",
        about: "Every inspection, test and repair: item, type, day, result, next due, cost.",
        sql: "SELECT i.barcode, i.name AS item, m.maintenance_type,
                     CAST(m.performed_on AS CHAR) AS performed_on,
                     CASE WHEN m.passed IS NULL THEN '' WHEN m.passed THEN 'yes' ELSE 'no' END
                       AS passed,
                     m.condition_after, m.performed_by, m.vendor_name,
                     CAST(m.cost AS CHAR) AS cost, CAST(m.next_due_date AS CHAR) AS next_due_date,
                     m.notes
                FROM maintenance_records m
                JOIN inventory_items i ON i.organization_id = m.organization_id AND i.id = m.item_id
               WHERE m.organization_id = ?
               ORDER BY m.performed_on, i.barcode",
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
