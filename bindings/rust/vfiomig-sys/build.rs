//! Finds libvfiomig with pkg-config: installed (vfiomig.pc), or in a meson
//! build tree, whose uninstalled .pc files pkg-config prefers when
//! PKG_CONFIG_PATH names `BUILD/meson-uninstalled` (docs/rust.md).

fn probe(name: &str) {
    if let Err(e) = pkg_config::Config::new().atleast_version("0.3").probe(name) {
        panic!(
            "vfiomig-sys: cannot find {name} with pkg-config: {e}\n\
             Install libvfiomig (meson install), or point PKG_CONFIG_PATH at a \
             meson build's meson-uninstalled folder (docs/rust.md)."
        );
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    probe("vfiomig");
    if std::env::var_os("CARGO_FEATURE_MOCK").is_some() {
        probe("vfiomig-mock");
    }
}
