//! The floor of the gateway's HTTP stack: the smallest proxy the same crates make — per-core
//! current-thread tokio runtimes on `SO_REUSEPORT` listeners, hyper's HTTP/1 server with the
//! gateway's settings, hyper-util's pooled client — with no routing, no engine, no parsing:
//! every request is forwarded as is to one upstream and its answer returned whole.
//!
//! Measured beside nginx with the gateway's overhead bench (docs/gateway.md, "The floor of the
//! stack"), it says how much of the gap to nginx is the HTTP stack and how much the gateway's
//! own work. Not part of the product.
//!
//! ```sh
//! cargo build --release --example floor_proxy
//! target/release/examples/floor_proxy 127.0.0.1:18095 http://127.0.0.1:18080 [workers]
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// The allocator the `switchyard` binary uses, so the floor is measured on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: floor_proxy LISTEN_ADDR UPSTREAM_BASE_URL [WORKERS]");
        std::process::exit(2);
    };
    let Ok(addr) = listen.parse::<SocketAddr>() else {
        eprintln!("not an address: {listen}");
        std::process::exit(2);
    };
    let workers = args.get(3).and_then(|w| w.parse().ok()).unwrap_or(2usize);
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let upstream = upstream.clone();
            std::thread::spawn(move || worker(addr, upstream))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn worker(addr: SocketAddr, upstream: String) {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.set_reuse_port(true).expect("SO_REUSEPORT");
    socket.set_nonblocking(true).expect("non-blocking");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(1024).expect("listen");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(socket.into()).expect("tokio listener");
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Upstream = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build(connector);
        let mut http = gateway::accept::http1_server(Duration::from_secs(30));
        http.keep_alive(true);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let client = client.clone();
            let upstream = upstream.clone();
            let service = service_fn(move |req| forward(client.clone(), upstream.clone(), req));
            let conn = http.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(conn);
        }
    });
}

async fn forward(
    client: Upstream,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let uri = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut out = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            out = out.header(name, value);
        }
    }
    let Ok(out) = out.body(Full::new(body.to_bytes())) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let Ok(answer) = client.request(out).await else {
        return Ok(status(StatusCode::BAD_GATEWAY));
    };
    let (parts, body) = answer.into_parts();
    let Ok(body) = body.collect().await else {
        return Ok(status(StatusCode::BAD_GATEWAY));
    };
    Ok(Response::from_parts(parts, Full::new(body.to_bytes())))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}
