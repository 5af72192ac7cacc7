//! `bart import lastfm`, `bart embed` and `bart similar` on a small HetRec-format directory,
//! and the import's errors.

mod common;

use common::{assert_shown_page_replays, bart, text_of};
use std::path::Path;

/// Four artists, two listening "scenes", Latin-1 tags.
fn write_sample(dir: &Path) {
    let files: [(&str, &[u8]); 4] = [
        (
            "artists.dat",
            "id\tname\turl\tpictureURL\n1\tBjörk\tu\tp\n2\tMúm\tu\tp\n3\tSlayer\tu\tp\n4\tMetallica\tu\tp\n"
                .as_bytes(),
        ),
        ("tags.dat", b"tagID\ttagValue\n1\t\xe9lectronique\n2\tmetal\n"),
        (
            "user_artists.dat",
            b"userID\tartistID\tweight\n1\t1\t50\n1\t2\t40\n2\t1\t10\n2\t2\t30\n3\t3\t70\n3\t4\t20\n4\t3\t5\n4\t4\t90\n",
        ),
        (
            "user_taggedartists.dat",
            b"userID\tartistID\ttagID\tday\tmonth\tyear\n1\t1\t1\t1\t4\t2009\n1\t2\t1\t1\t4\t2009\n3\t3\t2\t1\t4\t2009\n3\t4\t2\t1\t4\t2009\n",
        ),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn import_embed_and_similar() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir(&src).unwrap();
    write_sample(&src);
    let data_arg = data.to_str().unwrap();

    let out = bart(&["import", "lastfm", src.to_str().unwrap(), "--out", data_arg]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("imported 4 listeners, 4 artists, 8 listener-artist pairs and 2 tags"),
        "{stdout}"
    );

    // Without embeddings, `similar` fits them on the fly and says so.
    let out = bart(&["similar", "--data", data_arg, "björk", "-k", "1"]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("fitting ALS"), "{stderr}");
    assert!(
        stdout.contains("Björk (id 1, 2 listeners, électronique"),
        "{stdout}"
    );
    assert!(stdout.contains("  1. Múm"), "{stdout}");

    let out = bart(&[
        "embed",
        "--data",
        data_arg,
        "--factors",
        "2",
        "--clusters",
        "2",
        "--quiet",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Discover: électronique"), "{stdout}");
    assert!(stdout.contains("Discover: metal"), "{stdout}");

    let out = bart(&["similar", "--data", data_arg, "4", "-k", "1"]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("fitting"), "{stderr}");
    assert!(
        stdout.contains("rank-2 ALS") && stdout.contains("  1. Slayer"),
        "{stdout}"
    );

    let out = bart(&["similar", "--data", data_arg, "Nobody"]);
    assert!(!out.status.success());
    assert!(
        text_of(&out)
            .1
            .contains("no artist id or name matches `Nobody`")
    );
}

/// Imports the sample with one file replaced (or removed) and returns stderr.
fn import_error(name: &str, bytes: Option<&[u8]>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    write_sample(tmp.path());
    let path = tmp.path().join(name);
    match bytes {
        Some(b) => std::fs::write(&path, b).unwrap(),
        None => std::fs::remove_file(&path).unwrap(),
    }
    let out_dir = tmp.path().join("out");
    let out = bart(&[
        "import",
        "lastfm",
        tmp.path().to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_dir.join("listening.bin").exists());
    let stderr = text_of(&out).1;
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    stderr
}

#[test]
fn import_errors_name_the_file_and_line() {
    let e = import_error(
        "user_artists.dat",
        Some(b"userID\tartistID\tweight\n1\t1\t5\n1\t2\n"),
    );
    assert!(
        e.contains("user_artists.dat, line 3: 2 tab-separated fields, expected 3"),
        "{e}"
    );
    let e = import_error(
        "user_taggedartists.dat",
        Some(b"userID\tartistID\ttagID\tday\tmonth\tyear\n1\t1\t1\t1\tApril\t2009\n"),
    );
    assert!(
        e.contains(
            "user_taggedartists.dat, line 2: field 5 (month): `April` is not a non-negative integer"
        ),
        "{e}"
    );
    let e = import_error(
        "artists.dat",
        Some(b"id\tname\turl\tpictureURL\n1\tBj\xf6rk\tu\tp\n"),
    );
    assert!(
        e.contains("artists.dat, line 2: invalid UTF-8 at byte 5 of the line"),
        "{e}"
    );
    let e = import_error("tags.dat", None);
    assert!(e.contains("tags.dat: No such file or directory"), "{e}");
}

/// `bart demo` on the real HetRec 2011 Last.fm-2k data, which the workspace keeps beside the
/// project at `../shared/data/lastfm-2k` (never copied into the repository): a short run on
/// the world built around it, then a replay of the page it shows.
#[test]
fn demo_on_imported_lastfm_data_then_replay() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/lastfm-2k");
    assert!(
        src.join("user_artists.dat").exists(),
        "the Last.fm-2k data is expected at {}",
        src.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("lastfm");
    let d = data.to_str().unwrap();
    let out = bart(&["import", "lastfm", src.to_str().unwrap(), "--out", d]);
    assert!(out.status.success(), "{}", text_of(&out).1);

    // The data decides the sizes: a flag that sizes a generated world is refused.
    let out = bart(&["demo", "--data", d, "--listeners", "50"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--listeners does not apply") && stderr.contains("listening.bin"),
        "{stderr}"
    );

    let out = bart(&[
        "demo",
        "--quiet",
        "--data",
        d,
        "--days",
        "2",
        "--random-pages",
        "1500",
        "--bart-pages",
        "100",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "bart demo on the listening data",
        "(hetrec2011-lastfm-2k): 1892 listeners placed in 20 regions, 17632 artists",
        "Online stream rate per card",
        "Off-policy estimate of BaRT with model v1",
        "Home page of listener",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    let world = std::fs::read_to_string(data.join("world.json")).unwrap();
    assert!(world.contains("\"listening_checksum\""), "{world}");
    assert_shown_page_replays(d, &stdout);
}
