//! A TCP proxy in front of MariaDB with a switch, for tests of a database that goes away
//! (`Down`), hangs (`Stalled`) and comes back (`Up`).

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Up,
    /// Every live connection is closed; new ones are dropped as soon as they are accepted.
    Down,
    /// Nothing moves: connections stay open but carry no bytes until the link is up again (a
    /// hung database host or a pulled cable).
    Stalled,
}

/// A TCP proxy in front of MariaDB with a switch (`Link`).
pub struct Proxy {
    port: u16,
    link: watch::Sender<Link>,
    task: tokio::task::JoinHandle<()>,
}

/// Copies one direction while the link is up; holds bytes back while it is stalled (also bytes
/// read just as the stall began); stops when it is down.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: watch::Receiver<Link>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    let up = async |link: &mut watch::Receiver<Link>| {
        link.wait_for(|l| *l != Link::Stalled)
            .await
            .map(|l| *l == Link::Up)
            .unwrap_or(false)
    };
    loop {
        if !up(&mut link).await {
            return;
        }
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => {
                    if !up(&mut link).await || to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            _ = link.changed() => {}
        }
    }
}

impl Proxy {
    pub async fn start(upstream: String, link: Link) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(link);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() == Link::Down {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_r, client_w) = client.into_split();
                    let (server_r, server_w) = server.into_split();
                    tokio::join!(
                        pump(client_r, server_w, rx.clone()),
                        pump(server_r, client_w, rx)
                    );
                });
            }
        });
        Proxy {
            port,
            link: tx,
            task,
        }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    /// A handle that switches the link from another task.
    pub fn switch(&self) -> watch::Sender<Link> {
        self.link.clone()
    }

    /// `url` (a database URL) with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (creds, hostpath) = rest.rsplit_once('@').unwrap();
        let path = hostpath.split_once('/').map(|(_, p)| p).unwrap_or("");
        format!("{scheme}://{creds}@127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.link.send_replace(Link::Down);
        self.task.abort();
    }
}

/// host:port of a database URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let hostpath = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let host = hostpath.split('/').next().unwrap();
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:3306")
    }
}
