// Sets the ELF soname of the shared library: libnfq_rs.so.<major>.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnfq_rs.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
