// Links Debian's libFuzzer (it provides main) and the C++ runtime it needs.
fn main() {
    let dir = std::env::var("LIBFUZZER_DIR").unwrap_or_else(|_| "/usr/lib/llvm-16/lib".to_string());
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=static=Fuzzer");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rerun-if-env-changed=LIBFUZZER_DIR");
}
