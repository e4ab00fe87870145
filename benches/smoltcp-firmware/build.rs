//! Puts `memory.x` on the linker path (the cortex-m-rt pattern).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    equal_pages(&out);
}

/// `pages.rs` for the `equal-pages` responder: the reference device's
/// `/app.js` (its file and the head emberstack sends for it) and a
/// `/status.json` of the size emberstack renders, each with a head for
/// `Connection: close` and one for keep-alive.
fn equal_pages(out: &std::path::Path) {
    let web = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("../../web/app.js");
    println!("cargo:rerun-if-changed={}", web.display());
    let app = fs::read(&web).expect("web/app.js of the reference device");
    let head = |ty: &str, len: usize, extra: &str, conn: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ty}\r\n{extra}Content-Length: {len}\r\nConnection: {conn}\r\n\r\n"
        )
    };
    let app_extra =
        "ETag: \"24e48ddc58cb2c6f\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n";
    let status = "{\"name\":\"EMBER\",\"ip\":\"10.79.0.2/24\",\"gateway\":\"none\",\"dns\":\"none\",\"dhcp\":\"off\",\"lease\":\"none (static address)\",\"uptime\":\"00:00:01\",\"uptime_s\":1,\"time\":\"not synchronised\",\"frames_in\":12,\"frames_out\":7,\"dropped\":3,\"tx_errors\":0,\"echo\":0,\"http\":1}";
    let json = "application/json; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let mut rs = String::new();
    for (name, ty, extra, len) in [
        ("APP", js, app_extra, app.len()),
        ("STATUS", json, "Cache-Control: no-store\r\n", status.len()),
    ] {
        for (suffix, conn) in [("CLOSE", "close"), ("KEEP", "keep-alive")] {
            rs.push_str(&format!(
                "pub const {name}_HEAD_{suffix}: &[u8] = {:?}.as_bytes();\n",
                head(ty, len, extra, conn)
            ));
        }
    }
    // The parsing responder's refusals (`parse-request`), each closing.
    for (name, status) in [
        ("BAD_REQUEST", "400 Bad Request"),
        ("NOT_FOUND", "404 Not Found"),
        ("METHOD_NOT_ALLOWED", "405 Method Not Allowed"),
    ] {
        rs.push_str(&format!(
            "#[allow(dead_code)] pub const {name}: &[u8] = {:?}.as_bytes();\n",
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        ));
    }
    rs.push_str(&format!("pub const APP_BODY: &[u8] = &{app:?};\n"));
    rs.push_str(&format!(
        "pub const STATUS_BODY: &[u8] = {status:?}.as_bytes();\n"
    ));
    fs::write(out.join("pages.rs"), rs).expect("write pages.rs");
}
