//! Every page's frame: asset URLs, the signed-in member, and the header's navigation (the
//! platform's entries and each module's `Module::nav`, filtered by the viewer's permissions).

use crate::auth::Ctx;
use crate::module::NavEntry;

use super::asset_url;

/// What every page's frame needs: asset URLs, who is signed in, and the navigation that the
/// viewer's permissions allow (the platform's entries and each module's `Module::nav`).
pub struct Chrome {
    pub css: String,
    pub htmx: String,
    pub viewer_name: Option<String>,
    pub nav: Vec<NavItem>,
    /// Unread in-app notifications: the badge on the "Notifications" entry (0 when signed out).
    pub unread: u64,
}

pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

impl Chrome {
    pub fn anonymous() -> Self {
        Chrome {
            css: asset_url("app.css"),
            htmx: asset_url("vendor/htmx.min.js"),
            viewer_name: None,
            nav: Vec::new(),
            unread: 0,
        }
    }

    /// `current` is the href of the section the page belongs to.
    pub fn for_viewer(ctx: &Ctx, current: &str) -> Self {
        let modules = crate::module::installed()
            .iter()
            .filter(|m| m.on_for(ctx))
            .flat_map(|m| m.nav);
        let mut entries: Vec<&NavEntry> = PLATFORM_NAV.iter().chain(modules).collect();
        entries.sort_by_key(|e| e.order);
        let nav = nav_items(
            entries
                .into_iter()
                .filter(|e| e.needs.iter().all(|p| ctx.has(p)))
                .map(|e| (e.label, e.href)),
            current,
        );
        Chrome {
            viewer_name: Some(ctx.username.clone()),
            nav,
            unread: ctx.unread,
            ..Chrome::anonymous()
        }
    }
}

/// The platform's entries of the header's navigation; the modules' go between them by `order`.
/// The layout puts the unread count on the "/notifications" entry.
const PLATFORM_NAV: &[NavEntry] = {
    use crate::auth::permissions::{AUDIT_VIEW, MEMBERS_VIEW, ROLES_MANAGE, SETTINGS_MANAGE};
    const fn entry(
        label: &'static str,
        href: &'static str,
        needs: &'static [&'static str],
        order: u16,
    ) -> NavEntry {
        NavEntry {
            label,
            href,
            needs,
            order,
        }
    }
    &[
        entry("Members", "/members", &[MEMBERS_VIEW], 20),
        entry("Roles", "/roles", &[ROLES_MANAGE, MEMBERS_VIEW], 40),
        entry("Audit log", "/audit", &[AUDIT_VIEW], 80),
        entry("Security alerts", "/security-alerts", &[AUDIT_VIEW], 81),
        entry("Settings", SETTINGS, &[SETTINGS_MANAGE], 90),
        entry("Notifications", "/notifications", &[], 95),
        entry("Account", "/account", &[], 99),
    ]
};

/// Navigation entries (label, href); `current` is the href of the page's section.
fn nav_items(
    entries: impl IntoIterator<Item = (&'static str, &'static str)>,
    current: &str,
) -> Vec<NavItem> {
    entries
        .into_iter()
        .map(|(label, href)| NavItem {
            label,
            href,
            current: href == current,
        })
        .collect()
}

/// The href of the header entry the settings pages belong to.
pub const SETTINGS: &str = "/settings/department";

/// The settings area's sub-navigation (`settings_nav.html`); `current` is the href of the page's
/// section.
pub fn settings_nav(current: &str) -> Vec<NavItem> {
    nav_items(
        [
            ("Department", "/settings/department"),
            ("Stations", "/settings/stations"),
            ("Email", "/settings/email"),
            ("Outbox", "/settings/email/outbox"),
            ("Jobs", "/settings/jobs"),
            ("Status", "/settings/status"),
            ("HTTPS", "/settings/https"),
            ("Backups", "/settings/backups"),
            ("Notification defaults", "/settings/notifications"),
            ("Your notifications", "/account/notifications"),
        ],
        current,
    )
}
