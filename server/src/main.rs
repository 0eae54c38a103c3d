//! `eventlite`: the sync server (`serve`), device tools (`append`, `sync`, `log`, `token`) and store tools (`read`,
//! `tail`, `streams`, `stats`, `export`, `import`, `check`, `backup`). The command line lives in `cli/`; see
//! `docs/cli.md`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
