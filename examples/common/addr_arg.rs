//! The one command-line option the server and client examples take.

use std::process::ExitCode;

/// Parses `[--addr HOST:PORT]` (or `-h`/`--help`) from the command line:
/// the address to use (`default` without the option), or, after printing
/// `usage`, the code to exit with.
pub fn addr_arg(default: &str, usage: &str) -> Result<String, ExitCode> {
    let mut addr = default.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("-h" | "--help", _) => {
                println!("{usage}");
                return Err(ExitCode::SUCCESS);
            }
            _ => {
                eprintln!("{usage}");
                return Err(ExitCode::FAILURE);
            }
        }
    }
    Ok(addr)
}
