//! Rebuilds when migrations or web assets change, and refuses to build without the assets that
//! `scripts/build-web` produces (they are embedded into the binary).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=web/templates");
    println!("cargo:rerun-if-changed=web/static");
    for asset in ["web/static/vendor/htmx.min.js", "web/static/app.css.gz"] {
        if !std::path::Path::new(asset).exists() {
            panic!(
                "\n\n{asset} is missing: the web assets are not built.\n\
                 Run `scripts/build-web` (it needs npm), then build again.\n\n"
            );
        }
    }
}
