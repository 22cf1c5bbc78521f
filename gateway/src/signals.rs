//! The process signals the gateway answers: SIGHUP reloads the config, SIGTERM and Ctrl-C shut
//! it down.

use tracing::info;

use crate::state::Gateway;

/// Reloads the config on every SIGHUP, for as long as the runtime runs (see [`crate::reload`]).
pub async fn reload_on_hangup(gateway: Gateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch SIGHUP: reload only through POST /admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading the config");
            let gw = gateway.clone();
            // Reading the file and building upstreams is blocking work.
            let _ = tokio::task::spawn_blocking(move || gw.reload()).await;
        }
    }
    #[cfg(not(unix))]
    drop(gateway);
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("Ctrl-C: shutting down"),
        () = term => info!("SIGTERM: shutting down"),
    }
}
