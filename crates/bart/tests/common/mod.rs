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
