//! smtpkit with a discarding (streaming) handler, for the server bench.
fn main() -> std::io::Result<()> {
    smtpkit_bench::run_smtpkit_server(false)
}
