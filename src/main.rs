//! Thin entry point: parse, set up logging, build the runtime, run, map the
//! result to an exit code.

use std::process::ExitCode;

use pg2dolt::cli::Cli;
use pg2dolt::error::{EXIT_RUNTIME, FailureKind};

fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(error) => {
            // Bad flags are a usage error; --help and --version succeed.
            let code = if error.use_stderr() {
                FailureKind::Usage.exit_code()
            } else {
                0
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let (command, logging) = cli.into_command();
    pg2dolt::redact::add_secrets(
        command
            .urls()
            .into_iter()
            .flat_map(pg2dolt::redact::secrets_of_url),
    );
    pg2dolt::logging::init(&logging);
    pg2dolt::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pg2dolt: error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let code = runtime.block_on(pg2dolt::run(command, &logging));
    // Do not wait for connection tasks still winding down.
    runtime.shutdown_background();
    ExitCode::from(code)
}
