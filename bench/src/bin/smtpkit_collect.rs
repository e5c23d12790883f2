//! smtpkit with the collecting handler (`smtpkit::server::collect`), for the server bench.
fn main() -> std::io::Result<()> {
    smtpkit_bench::run_smtpkit_server(true)
}
