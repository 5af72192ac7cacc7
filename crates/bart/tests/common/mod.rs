//! Running the `bart` binary from integration tests.

use std::process::{Command, Output};

/// Runs `bart` with `args`, without a data directory from the environment.
pub fn bart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bart"))
        .args(args)
        .env_remove("BART_DATA")
        .output()
        .expect("bart runs")
}

/// Standard output and standard error as text.
pub fn text_of(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replays the page a demo's output (`demo_stdout`) names from data directory `data` and
/// checks that the replay reproduces it.
#[allow(dead_code)] // Not every test binary runs the demo.
pub fn assert_shown_page_replays(data: &str, demo_stdout: &str) {
    let id = demo_stdout
        .split("bart replay --impression ")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .expect("demo names an impression to replay");
    let out = bart(&["replay", "--data", data, "--impression", id]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("identical"), "{stdout}");
}
