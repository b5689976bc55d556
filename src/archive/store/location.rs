//! A location as the user wrote it: `s3://bucket/prefix/` or a local
//! path, for archives and reports.

use std::path::PathBuf;

/// A location as the user wrote it, parsed but not yet connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// a local directory
    Local(PathBuf),
    /// `s3://bucket/prefix`
    S3 {
        /// bucket name
        bucket: String,
        /// key prefix (empty, or ending in `/`)
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket/prefix/` or a local path.
    pub fn parse(text: &str) -> Result<Location, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                return Err(format!(
                    "{text} is neither s3://bucket/prefix nor a local directory"
                ));
            }
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{text} names no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(Location::S3 {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl Location {
    /// Parses the location of one object (`s3://bucket/dir/report.json`,
    /// `reports/run.json`): its directory or prefix, and its name.
    pub fn parse_object(text: &str) -> Result<(Location, String), String> {
        let trimmed = text.trim_end_matches('/');
        let (parent, name) = match trimmed.rsplit_once('/') {
            Some((parent, name)) if !parent.ends_with(':') && !parent.ends_with("s3:/") => {
                (parent.to_string(), name.to_string())
            }
            _ if trimmed.starts_with("s3://") => {
                return Err(format!("{text} names a bucket but no object key"));
            }
            _ => (".".to_string(), trimmed.to_string()),
        };
        if name.is_empty() {
            return Err(format!("{text} names no file"));
        }
        Ok((Location::parse(&parent)?, name))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(path) => write!(formatter, "{}/", path.display()),
            Location::S3 { bucket, prefix } => write!(formatter, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_locations_parse() {
        assert_eq!(
            Location::parse_object("s3://b/runs/report.json"),
            Ok((
                Location::S3 {
                    bucket: "b".into(),
                    prefix: "runs/".into()
                },
                "report.json".into()
            ))
        );
        assert_eq!(
            Location::parse_object("s3://b/report.json"),
            Ok((
                Location::S3 {
                    bucket: "b".into(),
                    prefix: String::new()
                },
                "report.json".into()
            ))
        );
        assert!(Location::parse_object("s3://b").is_err());
        assert_eq!(
            Location::parse_object("report.json"),
            Ok((Location::Local(PathBuf::from(".")), "report.json".into()))
        );
        assert_eq!(
            Location::parse_object("/tmp/x/r.json"),
            Ok((Location::Local(PathBuf::from("/tmp/x")), "r.json".into()))
        );
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://bucket/nightly/copies"),
            Ok(Location::S3 {
                bucket: "bucket".into(),
                prefix: "nightly/copies/".into()
            })
        );
        assert_eq!(
            Location::parse("s3://bucket"),
            Ok(Location::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            })
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://bucket").is_err());
        assert_eq!(
            Location::parse("/var/archives"),
            Ok(Location::Local(PathBuf::from("/var/archives")))
        );
    }
}
