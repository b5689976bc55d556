//! Issue 5, acceptance 3: TLS. The test command starts PostgreSQL and
//! MariaDB with a certificate from a CA it generated (PG2DOLT_TEST_CA);
//! verify-full with that CA succeeds on both sides, without it the run
//! fails with a clear message.

use crate::support::*;

/// The CA the test command made, or None (servers of one's own).
fn test_ca() -> Option<String> {
    let ca = required(
        "PG2DOLT_TEST_CA",
        "TLS test (the servers were not started by scripts/test.sh)",
    )?;
    assert!(
        std::path::Path::new(&ca).is_file(),
        "PG2DOLT_TEST_CA: no file {ca}"
    );
    Some(ca)
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_succeeds_with_the_ca_and_fails_without_it() {
    let Some(ca) = test_ca() else {
        return;
    };
    let case = Case::new(
        "tls",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'over TLS');",
    )
    .await;
    for server in targets("verify_full_succeeds_with_the_ca_and_fails_without_it") {
        let directory =
            case.schema_dir(&[("010.sql", "CREATE TABLE t (id INT PRIMARY KEY, v TEXT);")]);
        let directory = directory.to_str().unwrap();
        // 127.0.0.1 is in the certificate's names: verify-full can pass.
        let source = format!("{}?sslmode=verify-full&sslrootcert={ca}", case.source);
        let target = format!("{}?ssl-mode=VERIFY_IDENTITY", server.url);

        let run = Pg2dolt::new("")
            .source(&source)
            .target(&target)
            .flag("--target-ca-file", &ca)
            .flag("--schema-dir", directory)
            .args(["--replace"])
            .run();
        run.assert_success();
        assert!(
            run.stderr.contains("source_tls=\"verify-full\"")
                && run.stderr.contains("target_tls=\"verify-full\""),
            "the effective configuration names the TLS modes:\n{}",
            run.stderr
        );
        let copied: Option<String> = {
            use mysql_async::prelude::Queryable as _;
            mysql_connect(&with_database(&server.url, &case.name))
                .await
                .query_first("SELECT v FROM t WHERE id = 1")
                .await
                .unwrap()
        };
        assert_eq!(copied.as_deref(), Some("over TLS"));

        // Without the CA the certificate cannot be trusted: on each side alone.
        let plain_source = format!("{}?sslmode=verify-full", case.source);
        let run = Pg2dolt::new("")
            .source(&plain_source)
            .target(&target)
            .flag("--target-ca-file", &ca)
            .flag("--schema-dir", directory)
            .args(["--replace"])
            .run();
        let error = run.assert_one_line_error(5);
        assert!(
            error.contains("cannot connect to the Postgres source")
                && error.contains("--source-ca-file"),
            "{error}"
        );
        let run = Pg2dolt::new("")
            .source(&source)
            .target(&target)
            .flag("--schema-dir", directory)
            .args(["--replace"])
            .run();
        let error = run.assert_one_line_error(5);
        assert!(
            error.contains("cannot connect to the target") && error.contains("--target-ca-file"),
            "{error}"
        );

        // verify-ca checks the chain but not the name: "localhost" is in the
        // certificate too, but any host name would do with the right CA.
        let run = Pg2dolt::new("")
            .source(&case.source)
            .flag("--source-ssl-mode", "verify-ca")
            .flag("--source-ca-file", &ca)
            .target(&server.url)
            .flag("--target-ssl-mode", "verify-ca")
            .flag("--target-ca-file", &ca)
            .flag("--schema-dir", directory)
            .args(["--replace"])
            .run();
        run.assert_success();
    }
}
