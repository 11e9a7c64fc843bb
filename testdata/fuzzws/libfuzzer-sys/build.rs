// Links Debian's prebuilt libFuzzer instead of compiling the C++ sources the
// real crate vendors. libFuzzer.a defines `main`, so fuzz targets are #![no_main].
fn main() {
    let dir = std::env::var("LIBFUZZER_DIR").unwrap_or_else(|_| "/usr/lib/llvm-16/lib".to_string());
    println!("cargo:rerun-if-env-changed=LIBFUZZER_DIR");
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=static=Fuzzer");
    // libFuzzer is C++; without libstdc++ the link fails on operator new and friends.
    println!("cargo:rustc-link-lib=dylib=stdc++");
}
