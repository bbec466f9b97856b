fn main() -> std::process::ExitCode {
    reelforge::cli::main()
}
