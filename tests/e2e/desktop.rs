//! A private X display (Xvfb) and a tauri-driver on free ports, started for one test and
//! stopped when it ends, so `make test` needs no display and leaves nothing running.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Xvfb and tauri-driver, killed on drop (driver first, so the app goes before its display).
pub struct Desktop {
    display: String,
    _driver: KillOnDrop,
    _xvfb: KillOnDrop,
    pub driver_url: String,
}

/// A child process that is killed and reaped when dropped, even if the test panics half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two distinct free ports: both listeners are held until both are chosen, so the second can
/// never be the port the first just released.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

fn free_display() -> u32 {
    (90..400)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists() && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
        .expect("no free X display number")
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} did not start within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()))
}

/// tauri-driver from `TAURI_DRIVER` (set by the Makefile) or the PATH.
fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

impl Desktop {
    /// Starts a display and a driver; the app launched through it gets `env`.
    /// The driver's and the app's own output go to `log` (kept for when a test fails).
    pub fn start(env: &[(&str, &Path)], log: &Path) -> Desktop {
        let n = free_display();
        let xvfb = KillOnDrop(
            Command::new("Xvfb")
                .args([format!(":{n}"), "-screen".into(), "0".into(), "1200x780x24".into(), "-nolisten".into(), "tcp".into()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb is not installed: run `make test`, which installs it"),
        );
        wait_until("Xvfb", || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists());

        let (port, native_port) = free_ports();
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("DISPLAY", format!(":{n}"))
            .stdout(Stdio::null())
            .stderr(log_file(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = KillOnDrop(cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start tauri-driver ({}): {e}; run `make test`, which installs it", tauri_driver().display())
        }));
        let desktop =
            Desktop { display: format!(":{n}"), _xvfb: xvfb, _driver: driver, driver_url: format!("http://127.0.0.1:{port}") };
        wait_until("tauri-driver", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        desktop
    }
}

impl Desktop {
    /// Saves a PNG of the whole display, as a person would see the window.
    pub fn screenshot(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let status = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(format!("png:{}", path.display()))
            .status()
            .expect("ImageMagick's import is not installed: run `make test`, which installs it");
        assert!(status.success(), "screenshot to {} failed", path.display());
    }
}
