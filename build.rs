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
    // The server sends the precompressed copy to every browser that takes gzip: a copy older
    // than its file would serve yesterday's styles.
    for entry in std::fs::read_dir("web/static").expect("web/static") {
        let path = entry.expect("entry").path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["css", "js", "svg"].contains(&ext) {
            continue;
        }
        let gz = path.with_extension(format!("{ext}.gz"));
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&gz) < modified(&path) {
            panic!(
                "\n\n{} is older than {} (or missing): the compressed copy is stale.\n\
                 Run `scripts/build-web`, then build again.\n\n",
                gz.display(),
                path.display()
            );
        }
    }
}
