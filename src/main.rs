//! The `thinkscale` binary: the workbench window without arguments, the headless CLI with a
//! subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    match thinkscale::cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
