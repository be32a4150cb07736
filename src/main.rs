//! The `dnslb` binary: parse the command line, hand over to `app`, print the
//! error chain and exit 1 on failure.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let cli = dnslb::cli::Cli::parse();
    match dnslb::app::main(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("dnslb: error: {e:#}");
            std::process::exit(1);
        }
    }
}
