//! The `thinkscale` binary: the workbench window without a subcommand, the headless CLI with
//! one. This is the one place that chooses between them.

use std::process::ExitCode;

fn main() -> ExitCode {
    let run = thinkscale::cli::main().and_then(|next| match next {
        thinkscale::cli::Next::Exit(code) => Ok(code),
        thinkscale::cli::Next::Window(a) => thinkscale::ui::run(thinkscale::ui::Launch {
            policy: a.policy,
            verifier: a.verifier,
            open: a.open,
            problem: a.problem,
            run: a.run,
        })
        .map(|_| ExitCode::SUCCESS),
    });
    match run {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
