//! Issue 6: archives. A copy with --archive, restored into a second
//! database without Postgres, has every row of the first (Chinook and the
//! demo, on a real S3-protocol server: s3s-fs, started by the test
//! command); a damaged data file fails the restore naming the file; a file
//! larger than the multipart threshold round-trips; bad S3 locations fail
//! before the copy starts.

use std::path::PathBuf;

use mysql_async::prelude::Queryable as _;

use crate::chinook::chinook_postgres_sql;
use crate::demo::demo_sql;

use crate::support::*;

/// The S3 server the test command started.
struct S3 {
    endpoint: String,
    root: PathBuf,
    access_key: String,
    secret_key: String,
}

impl S3 {
    fn from_environment(test: &str) -> Option<S3> {
        let what = format!("{test} (no S3 server: run the suite with scripts/test.sh)");
        let read = |name: &str| required(name, &what);
        Some(S3 {
            endpoint: read("PG2DOLT_TEST_S3_ENDPOINT")?,
            root: PathBuf::from(read("PG2DOLT_TEST_S3_ROOT")?),
            access_key: read("PG2DOLT_TEST_S3_ACCESS_KEY")?,
            secret_key: read("PG2DOLT_TEST_S3_SECRET_KEY")?,
        })
    }

    /// A new bucket (s3s-fs keeps a bucket as a directory of its root).
    fn bucket(&self, name: &str) -> String {
        let bucket = name.replace('_', "-");
        std::fs::create_dir_all(self.root.join(&bucket)).unwrap();
        bucket
    }

    /// An object as stored (s3s-fs keeps objects as files).
    fn object(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    fn run(&self, arguments: &[&str]) -> Run {
        let environment = self.environment();
        let pairs: Vec<(&str, &str)> = environment
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        Pg2dolt::new("").args(arguments).envs(&pairs).run()
    }
}

/// The archived copies under an S3 location, newest first.
fn archives(s3: &S3, location: &str) -> Vec<serde_json::Value> {
    let run = s3.run(&["archives", location, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str::<serde_json::Value>(&run.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Copy with --archive into one database, restore into another; the two
/// hold the same rows. Also a dump-only copy restored into a third.
async fn round_trip(s3: &S3, case: &Case, schema_dir: &str) {
    for target in targets("archive round trip") {
        round_trip_into(s3, case, schema_dir, &target.url, target.name).await;
    }
}

async fn round_trip_into(s3: &S3, case: &Case, schema_dir: &str, target: &str, name: &str) {
    let bucket = s3.bucket(&format!("{}-{name}", case.name));
    let location = format!("s3://{bucket}/nightly/");
    let copied_db = format!("{}_copied", case.name);
    let run = s3.run(&[
        "--source",
        &case.source,
        "--target",
        target,
        "--database",
        &copied_db,
        "--schema-dir",
        schema_dir,
        "--archive",
        &location,
        "--report",
        &format!("s3://{bucket}/reports/copy.json"),
    ]);
    run.assert_success();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s3.object(&bucket, "reports/copy.json")).unwrap())
            .unwrap();
    assert_eq!(report["archive"]["complete"], true, "{report}");
    let archived = report["archive"]["location"].as_str().unwrap().to_string();
    let listed = archives(s3, &location);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["location"], archived.as_str());
    assert_eq!(listed[0]["rows"], report["rows_total"]);

    let restored_db = format!("{}_restored", case.name);
    let run = s3.run(&[
        "restore",
        "--from",
        &archived,
        "--target",
        target,
        "--database",
        &restored_db,
    ]);
    run.assert_success();
    let expected = fingerprint(target, &copied_db).await;
    assert!(expected.iter().any(|(_, rows, _)| *rows > 0));
    assert_eq!(
        expected,
        fingerprint(target, &restored_db).await,
        "the restored database has every row of the copied one"
    );

    // Dump only: no target database, then restored.
    let run = s3.run(&[
        "--source",
        &case.source,
        "--target",
        target,
        "--database",
        &format!("{}_never", case.name),
        "--schema-dir",
        schema_dir,
        "--archive",
        &location,
        "--no-target",
    ]);
    run.assert_success();
    let mut admin = mysql_connect(target).await;
    let never: Option<String> = admin
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (format!("{}_never", case.name),),
        )
        .await
        .unwrap();
    assert!(never.is_none(), "dump only made no database");
    let listed = archives(s3, &location);
    assert_eq!(listed.len(), 2, "two archived copies");
    let newest = listed[0]["location"].as_str().unwrap();
    let dumped_db = format!("{}_dumped", case.name);
    let run = s3.run(&[
        "restore",
        "--from",
        newest,
        "--target",
        target,
        "--database",
        &dumped_db,
    ]);
    run.assert_success();
    assert_eq!(expected, fingerprint(target, &dumped_db).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn chinook_archived_and_restored_arrives_whole() {
    let Some(s3) = S3::from_environment("chinook_archived_and_restored_arrives_whole") else {
        return;
    };
    let case = Case::new("archchinook", &chinook_postgres_sql()).await;
    let schema_dir = repo_path("tests/fixtures/chinook/mysql-schema");
    round_trip(&s3, &case, schema_dir.to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_archived_and_restored_arrives_whole() {
    let Some(s3) = S3::from_environment("demo_archived_and_restored_arrives_whole") else {
        return;
    };
    let case = Case::new("archdemo", &demo_sql()).await;
    let schema_dir = repo_path("schema");
    round_trip(&s3, &case, schema_dir.to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_archive_file_fails_the_restore_and_names_it() {
    let case = Case::new("damaged", &demo_sql()).await;
    let directory = std::env::temp_dir().join(format!("{}-archive", case.name));
    let _ = std::fs::remove_dir_all(&directory);
    let run = Pg2dolt::new("")
        .source(&case.source)
        .target(&case.servers.mysql_url)
        .flag("--archive", directory.to_str().unwrap())
        .run();
    run.assert_success();
    let archive = std::fs::read_dir(&directory)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let data = archive.join("data/users.tsv.zst");
    let original = std::fs::read(&data).unwrap();

    // One byte changed, then the file cut short.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let cut = original[..original.len() - 7].to_vec();
    let damages = [("a changed byte", flipped), ("a truncated file", cut)];
    for (target, (damage, bytes)) in
        targets("a_damaged_archive_file_fails_the_restore_and_names_it")
            .iter()
            .flat_map(|target| damages.iter().map(move |damage| (target, damage)))
    {
        std::fs::write(&data, bytes).unwrap();
        let report = case.report_path();
        let database = format!("{}_restored", case.name);
        let run = Pg2dolt::new("restore")
            .flag("--from", archive.to_str().unwrap())
            .target(&target.url)
            .database(&database)
            .report(&report)
            .run();
        let error = run.assert_one_line_error(4);
        assert!(
            error.contains("data/users.tsv.zst")
                && error.contains("damaged")
                && error.contains("checksum mismatch: SHA-256"),
            "{damage}: {error}"
        );
        let report = read_report(&report);
        assert_eq!(report["status"], "failed", "{damage}");
        assert_eq!(report["dolt_commit"], serde_json::Value::Null, "{damage}");
        assert!(
            !database_exists_at(&target.url, &database).await,
            "{} {damage}: the half-restored database was dropped",
            target.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_larger_than_the_multipart_threshold_round_trips() {
    let Some(s3) = S3::from_environment("a_file_larger_than_the_multipart_threshold_round_trips")
    else {
        return;
    };
    // About 17 MB of hex text, about 8 MB compressed: two 5 MiB parts.
    let case = Case::new(
        "multipart",
        "CREATE TABLE blobs (id int PRIMARY KEY, payload text);
         INSERT INTO blobs SELECT n, md5(n::text) || md5((n + 1)::text) || md5((n * 7)::text) || md5((n * 13)::text)
             FROM generate_series(1, 120000) n;
         ANALYZE blobs;",
    )
    .await;
    let schema = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE blobs (id INT PRIMARY KEY, payload TEXT);",
    )]);
    let bucket = s3.bucket(&case.name);
    let copied_db = format!("{}_copied", case.name);
    let report = case.report_path();
    let run = s3.run(&[
        "--source",
        &case.source,
        "--target",
        &case.servers.mysql_url,
        "--database",
        &copied_db,
        "--schema-dir",
        schema.to_str().unwrap(),
        "--archive",
        &format!("s3://{bucket}/big"),
        "--archive-part-size",
        "5242880",
        "--chunk-rows",
        "10000000",
        "--report",
        report.to_str().unwrap(),
    ]);
    run.assert_success();
    let report = read_report(&report);
    let key = report["archive"]["key"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s3.object(&bucket, &format!("big/{key}/manifest.json"))).unwrap(),
    )
    .unwrap();
    let file = &manifest["tables"][0]["files"][0];
    assert!(
        file["stored_bytes"].as_u64().unwrap() > 5_242_880,
        "the data file is larger than one part: {file}"
    );
    let stored = std::fs::read(s3.object(
        &bucket,
        &format!("big/{key}/{}", file["path"].as_str().unwrap()),
    ))
    .unwrap();
    assert_eq!(stored.len() as u64, file["stored_bytes"].as_u64().unwrap());

    let restored_db = format!("{}_restored", case.name);
    let run = s3.run(&[
        "restore",
        "--from",
        report["archive"]["location"].as_str().unwrap(),
        "--target",
        &case.servers.mysql_url,
        "--database",
        &restored_db,
    ]);
    run.assert_success();
    assert_eq!(
        fingerprint(&case.servers.mysql_url, &copied_db).await,
        fingerprint(&case.servers.mysql_url, &restored_db).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_s3_locations_fail_before_the_copy_starts() {
    let Some(s3) = S3::from_environment("bad_s3_locations_fail_before_the_copy_starts") else {
        return;
    };
    let case = Case::new(
        "bads3",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);",
    )
    .await;
    let schema = case.schema_dir(&[("010.sql", "CREATE TABLE t (id INT PRIMARY KEY);")]);
    let bucket = s3.bucket(&case.name);
    let copy = |location: &str, environment: &[(&str, &str)]| {
        Pg2dolt::new("copy")
            .source(&case.source)
            .target(&case.servers.mysql_url)
            .schema_dir(&schema)
            .flag("--archive", location)
            .envs(environment)
            .run()
    };
    let good = s3.environment();
    let value = |name: &str| good.iter().find(|(key, _)| *key == name).unwrap().1.clone();
    let endpoint = value("AWS_ENDPOINT_URL");
    let key = value("AWS_ACCESS_KEY_ID");
    let secret = value("AWS_SECRET_ACCESS_KEY");
    let base = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];

    let run = copy("s3://no-such-bucket-here/x/", &base);
    let error = run.assert_one_line_error(2);
    assert!(
        error.contains("no-such-bucket-here") && error.contains("does not exist"),
        "{error}"
    );

    let mut wrong = base;
    wrong[2] = ("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    let run = copy(&format!("s3://{bucket}/x/"), &wrong);
    let error = run.assert_one_line_error(5);
    assert!(error.contains("access denied"), "{error}");
    assert!(!run.stderr.contains("not-the-secret"));

    let mut unreachable = base;
    unreachable[0] = ("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let run = copy(&format!("s3://{bucket}/x/"), &unreachable);
    let error = run.assert_one_line_error(5);
    assert!(error.contains("cannot reach the S3 endpoint"), "{error}");

    assert!(
        !database_exists(&case.servers, &case.name).await,
        "no copy started"
    );
}
