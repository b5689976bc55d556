//! The S3 side of a store: the client (the standard AWS chain, rustls
//! with ring), the bucket check, and S3 errors as one line with the exit
//! code they deserve.

use std::time::Duration;

use crate::error::{FailureKind, failure};

/// The S3 client from the standard AWS chain, over rustls with ring.
pub(super) async fn s3_client(path_style: bool) -> aws_sdk_s3::Client {
    use aws_smithy_http_client::tls;
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(300))
        .build();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    // An S3-compatible store on an IP address or localhost has no
    // virtual-host DNS: address buckets by path there.
    let local_endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .and_then(|endpoint| url::Url::parse(&endpoint).ok())
        .is_some_and(|endpoint| match endpoint.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
            None => false,
        });
    let mut config =
        aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style || local_endpoint);
    if shared.region().is_none() {
        config = config.region(aws_sdk_s3::config::Region::new("us-east-1"));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The bucket exists and these credentials reach it.
pub(super) async fn check_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| s3_error(&error, &format!("checking the bucket {bucket}")))?;
    Ok(())
}

/// One line for an S3 failure, with the exit code's kind: a missing bucket
/// is configuration (2), denied access or an unreachable endpoint is
/// connection (5).
pub(super) fn s3_error<E>(
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    doing: &str,
) -> anyhow::Error
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let (kind, message) = match error {
        SdkError::DispatchFailure(failure_info) => {
            let detail = failure_info
                .as_connector_error()
                .map_or_else(|| "no answer".to_string(), |error| error_chain(error));
            if detail.contains("loading credentials") {
                (
                    FailureKind::Connect,
                    "no usable AWS credentials (looked in the environment, web identity and the instance profile)"
                        .to_string(),
                )
            } else {
                (
                    FailureKind::Connect,
                    format!("cannot reach the S3 endpoint ({detail})"),
                )
            }
        }
        SdkError::TimeoutError(_) => (
            FailureKind::Connect,
            "the S3 endpoint did not answer in time".to_string(),
        ),
        SdkError::ConstructionFailure(_) => (
            FailureKind::Connect,
            format!("cannot make the S3 request: {}", error_chain(error)),
        ),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let http = service.raw().status().as_u16();
            match (code, http) {
                ("NoSuchBucket", _) | (_, 404) => {
                    (FailureKind::Usage, "the bucket does not exist".to_string())
                }
                ("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch", _)
                | (_, 401 | 403) => (
                    FailureKind::Connect,
                    format!(
                        "access denied ({}): check the AWS credentials",
                        if code.is_empty() { "HTTP 403" } else { code }
                    ),
                ),
                _ => (
                    FailureKind::Connect,
                    format!(
                        "S3 said {} (HTTP {http}): {}",
                        if code.is_empty() { "an error" } else { code },
                        service.err().message().unwrap_or("")
                    ),
                ),
            }
        }
        _ => (FailureKind::Connect, error_chain(error)),
    };
    failure(kind, format!("{doing}: {message}"))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
