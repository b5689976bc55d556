//! `--mask-rules`, `--mask-key-file` and `--mask-new-columns`, resolved:
//! the rules parsed (an error names the file and line), the key read
//! (never logged), exit 2 for anything wrong with them, but exit 3 when
//! the key the rules need is missing (a secret that went missing: nothing
//! may move unmasked).

use crate::cli::{CopyArgs, MaskNewColumnsArg};
use crate::error::{FailureKind, failure};
use crate::mask::{MaskKey, MaskRules};
use crate::plan::masking::{Masking, NewColumns};

/// The masking of a run, or `None` without `--mask-rules`.
pub fn resolve_masking(arguments: &CopyArgs) -> anyhow::Result<Option<Masking>> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let missing = |message: String| {
        failure(
            FailureKind::Plan,
            format!("{message}; nothing was done (no row moves unmasked)"),
        )
    };
    let Some(file) = &arguments.mask_rules else {
        if arguments.mask_key_file.is_some() {
            return Err(usage("--mask-key-file needs --mask-rules".into()));
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(file).map_err(|error| {
        usage(format!(
            "cannot read masking rules {}: {error}",
            file.display()
        ))
    })?;
    let rules = MaskRules::parse(&text)
        .map_err(|error| usage(format!("masking rules {}, {error}", file.display())))?;
    let key = match (&arguments.mask_key_file, rules.need_key()) {
        (Some(key_file), _) => {
            let bytes = std::fs::read(key_file).map_err(|error| {
                missing(format!(
                    "cannot read the mask key file {}: {error}",
                    key_file.display()
                ))
            })?;
            Some(MaskKey::new(&bytes).map_err(|error| {
                usage(format!("--mask-key-file {}: {error}", key_file.display()))
            })?)
        }
        (None, Some(rule)) => {
            return Err(missing(format!(
                "masking rules {}, line {}: {} needs the secret key: pass --mask-key-file",
                file.display(),
                rule.line,
                rule.generator.describe()
            )));
        }
        (None, None) => None,
    };
    Ok(Some(Masking {
        rules,
        key,
        new_columns: match arguments.mask_new_columns {
            MaskNewColumnsArg::Fail => NewColumns::Fail,
            MaskNewColumnsArg::Null => NewColumns::Null,
            MaskNewColumnsArg::Copy => NewColumns::Copy,
        },
    }))
}
