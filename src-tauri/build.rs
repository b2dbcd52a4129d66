fn main() {
    // tauri.conf.json lives at the repository root (next to the workspace Cargo.toml), not in
    // src-tauri; paths inside it (frontendDist, icons) are relative to the root.
    // `include_image!` does not track its file: rebuild when the tray icon changes.
    println!("cargo:rerun-if-changed=../icons/tray.png");
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri-build failed (is ../tauri.conf.json valid and does ui/dist exist?)");
}
