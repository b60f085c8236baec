//! `uec-idp`: parses the command line and dispatches; everything else lives in the library.

fn main() -> std::process::ExitCode {
    uec_idp::cli::main()
}
