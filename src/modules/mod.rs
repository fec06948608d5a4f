//! The modules, each a vertical slice (`DESIGN.md`, "Layout"): `mod.rs` with its `MODULE`
//! (router, jobs, navigation, dashboard panels, API paths, export, seed data, listeners),
//! `rules.rs` (pure), `service.rs` (or `service/`), `api.rs`, `pages/`, `jobs.rs`. Adding one is
//! its folder, its templates, a migration, its tests and one line below.

/// Declares each module and lists it in `ALL`, so that a module is named once.
macro_rules! modules {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every module, in the order their routes are merged.
        pub static ALL: &[crate::module::Module] = &[$($module::MODULE),+];
    };
}

modules! {
    dashboard,
    announcements,
    training,
    membership,
    programs,
    inventory,
    events,
    scheduling,
    elections,
    documents,
    minutes,
}

#[cfg(test)]
mod tests {
    /// Two parts of the API with a schema of the same name would merge into one, and one of
    /// them would be documented with the other's fields: every name comes from one part.
    #[test]
    fn no_two_parts_of_the_api_name_a_schema_alike() {
        let mut parts = vec![("platform", crate::openapi::platform())];
        parts.extend(super::ALL.iter().map(|m| (m.name, (m.openapi)())));
        let mut seen: std::collections::BTreeMap<String, (&str, serde_json::Value)> =
            std::collections::BTreeMap::new();
        let mut clashes = Vec::new();
        for (part, api) in parts {
            let schemas = api.components.map(|c| c.schemas).unwrap_or_default();
            for (name, schema) in schemas {
                let schema = serde_json::to_value(schema).unwrap();
                match seen.get(&name) {
                    Some((other, same)) if *same != schema => {
                        clashes.push(format!("{name}: {other} and {part}"))
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(name, (part, schema));
                    }
                }
            }
        }
        assert!(clashes.is_empty(), "schemas named alike: {clashes:?}");
    }
}
