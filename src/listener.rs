//! Accepting connections, for every listener the server has (plain HTTP, the HTTP→HTTPS redirect,
//! HTTPS). A neighbour on the station LAN must not be able to stall the box by opening sockets and
//! saying nothing, or by trickling a request a byte at a time, so every connection lives under
//! three limits:
//!
//! - a **header timeout**: the request head must arrive within it, counted from the moment the
//!   connection is ready for a request. hyper restarts the same timer when a keep-alive connection
//!   goes idle after a response, so it is also the idle timeout;
//! - a **TLS handshake timeout** of the same length on HTTPS;
//! - a **cap on open connections**, kept below the process's open-file limit so that the database
//!   pool, the mailer, backups and uploads always have descriptors left. Past the cap a new
//!   connection is closed at once rather than queued: the idle ones ahead of it are cut by the
//!   header timeout within seconds, so real clients get back in quickly.
//!
//! At start the soft open-file limit is raised to the hard one (the systemd unit sets
//! `LimitNOFILE`), and the cap follows from it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Default for `Config::header_timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// Descriptors kept back from the connection cap for everything else the server opens: the
/// database pool (16), SMTP, log and data files, backup archives, uploads, the TLS files.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The cap is never set below this, however low the file limit (a very small limit is a
/// misconfiguration the server still serves through, less well).
const MIN_CONNECTIONS: u64 = 64;
/// In-flight requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections the server keeps open at most, and how long a request head may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

impl ConnLimits {
    /// The cap for this process's open-file limit, or `configured` when the configuration set
    /// one (never more than the file limit allows).
    pub fn for_process(configured: Option<usize>, header_timeout: Duration) -> ConnLimits {
        let files = open_file_limit();
        let fitting = files
            .saturating_sub(RESERVED_DESCRIPTORS)
            .max(MIN_CONNECTIONS);
        let max = match configured {
            Some(n) => (n as u64).min(fitting),
            None => fitting,
        };
        ConnLimits {
            max_connections: usize::try_from(max).unwrap_or(usize::MAX),
            header_timeout,
        }
    }
}

/// Raises the soft open-file limit to the hard limit and returns it. A process started from a
/// shell often has a soft limit of 1,024 and a hard one far above it; a socket per phone must not
/// be what runs out first.
pub fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// The current soft open-file limit.
pub fn open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_cur
}

/// Counts of what the listener did, for the logs and the tests' eyes.
#[derive(Debug, Default)]
struct Refusals {
    over_cap: AtomicU64,
}

/// Serves `app` on `listener` until `down` turns true, then lets in-flight requests finish (up to
/// `DRAIN_TIMEOUT`). With `tls`, each connection first completes a TLS handshake. `open` is shared
/// by all the listeners of one server, so the cap counts every connection of the process.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnLimits,
    open: Arc<Semaphore>,
    mut down: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let refusals = Arc::new(Refusals::default());
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = async { down.wait_for(|d| *d).await.map(|_| ()) } => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Closing at once frees the descriptor now; see the module comment.
            let n = refusals.over_cap.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(
                    %remote,
                    refused = n + 1,
                    max = limits.max_connections,
                    "too many open connections; closing new ones until idle ones time out"
                );
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_one(tcp, remote, app, limits, watcher).await,
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    serve_one(stream, remote, app, limits, watcher).await
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
    Ok(())
}

async fn serve_one<S>(
    stream: S,
    remote: SocketAddr,
    app: Router,
    limits: ConnLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(remote));
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

/// The semaphore one server's listeners share.
pub fn connection_slots(limits: &ConnLimits) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_below_the_file_limit() {
        let limits = ConnLimits::for_process(None, DEFAULT_HEADER_TIMEOUT);
        let files = open_file_limit();
        assert!(limits.max_connections as u64 <= files.max(MIN_CONNECTIONS + RESERVED_DESCRIPTORS));
        assert!(limits.max_connections as u64 >= MIN_CONNECTIONS);
        // A configured cap above what fits is lowered to what fits.
        let huge = ConnLimits::for_process(Some(usize::MAX / 2), DEFAULT_HEADER_TIMEOUT);
        assert_eq!(huge.max_connections, limits.max_connections);
        let small = ConnLimits::for_process(Some(100), DEFAULT_HEADER_TIMEOUT);
        assert_eq!(small.max_connections, 100.min(limits.max_connections));
    }
}
