//! The HTTP(S) server: routes, the ingest and health handlers, start-up (migrate, start
//! the projector) and graceful shutdown. Plain HTTP or rustls (ring) HTTPS.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::sync::{INGEST_PATH, IngestAck, IngestBatch, STATUS_PAGE_PREFIX};
use serde_json::json;
use tokio::net::TcpListener;

use crate::ingest::{IngestError, MAX_BODY_BYTES};
use crate::problem::Problem;
use crate::{HqError, HqOptions, HqState, db, ingest, migrate, projector, status};

/// Every route of headquarters.
pub fn router(state: HqState) -> Router {
    // GB/T 5.6.2: with report readers configured, the reports and targets need a login.
    let mut reports = crate::reports::router();
    if let Some(v) = state.viewers.clone() {
        reports = reports.route_layer(axum::middleware::from_fn_with_state(
            v,
            crate::viewers::require_viewer,
        ));
    }
    Router::new()
        .route(
            INGEST_PATH,
            post(ingest_batch).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/health", get(health))
        .route(
            &format!("{STATUS_PAGE_PREFIX}/{{centre_id}}/{{token}}"),
            get(status::status),
        )
        .merge(reports)
        .with_state(state)
}

/// Binds `opts.listen` and serves until `shutdown` completes.
pub async fn run(
    opts: HqOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HqError> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| HqError::Listen {
            addr: opts.listen,
            source,
        })?;
    serve(listener, opts, shutdown).await
}

/// Migrates the database, starts the projector and serves on `listener` (its address
/// wins over `opts.listen`) until `shutdown`; then stops the projector and closes the pool.
pub async fn serve(
    listener: TcpListener,
    opts: HqOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HqError> {
    let centre_ca = match &opts.centre_ca {
        Some(dir) if opts.tls.is_some() => Some(crate::pki::CentreCa::load_or_create(dir)?),
        Some(_) => {
            return Err(HqError::Tls(
                "centre certificates need HTTPS: give the server's certificate and key too".into(),
            ));
        }
        None => None,
    };
    let tls = match &opts.tls {
        Some((cert, key)) => Some(tls_config(cert, key, centre_ca.as_ref())?),
        None => None,
    };
    let pool = db::pool(&opts.database_url)?;
    {
        let mut client = pool.get().await?;
        migrate::migrate(&mut client).await?;
    }
    let mut state = HqState::new(pool.clone());
    state.centre_certificates = centre_ca.is_some();
    state.viewers = match &opts.report_readers {
        Some(path) => Some(Arc::new(crate::viewers::Viewers::load(path)?)),
        None => {
            tracing::warn!(
                "no report readers configured: the report pages are open to anyone who reaches them"
            );
            None
        }
    };
    let stop = crate::shutdown_channel(shutdown);
    let projector = tokio::spawn(projector::run(
        pool.clone(),
        state.projector_wake.clone(),
        stop.clone(),
    ));
    let app = router(state);
    let addr = listener.local_addr().map_err(HqError::Serve)?;
    let served = match tls {
        None => {
            tracing::info!("headquarters listening on http://{addr}");
            axum::serve(listener, app)
                .with_graceful_shutdown(crate::until_true(stop.clone()))
                .await
                .map_err(HqError::Serve)
        }
        Some(config) => {
            tracing::info!(
                "headquarters listening on https://{addr}{}",
                if centre_ca.is_some() {
                    " (ingest needs each centre's client certificate)"
                } else {
                    ""
                }
            );
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            let wait = stop.clone();
            tokio::spawn(async move {
                crate::until_true(wait).await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let std_listener = listener.into_std().map_err(HqError::Serve)?;
            axum_server::from_tcp_rustls(std_listener, config)
                .map_err(HqError::Serve)?
                .handle(handle)
                .serve(app.into_make_service())
                .await
                .map_err(HqError::Serve)
        }
    };
    if let Err(e) = projector.await {
        tracing::error!("the projector task failed: {e}");
    }
    pool.close();
    served
}

/// A rustls server configuration (ring provider) from PEM files; with the centres' CA it
/// also asks clients for a centre certificate.
fn tls_config(
    cert: &Path,
    key: &Path,
    centre_ca: Option<&crate::pki::CentreCa>,
) -> Result<axum_server::tls_rustls::RustlsConfig, HqError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| HqError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(HqError::Tls(format!(
            "{}: no certificate in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| HqError::Tls(format!("{}: {e}", key.display())))?;
    let mut config = match centre_ca {
        Some(ca) => ca.server_config(certs, key)?,
        None => rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| HqError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| HqError::Tls(e.to_string()))?,
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized(message: &str) -> Response {
    let mut r = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

async fn ingest_batch(
    State(state): State<HqState>,
    tls: Option<axum::Extension<Arc<axum_server::tls::TlsInfo>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("an ingest token is required (Authorization: Bearer ...)");
    };
    let mut client = match state.pool.get().await {
        Ok(c) => c,
        Err(e) => {
            return Problem::internal("reach its database", db::pool_error_text(&e))
                .into_response();
        }
    };
    let plain: &tokio_postgres::Client = &client;
    let centre = match crate::centres::centre_for_token(plain, token).await {
        Ok(Some(c)) => c,
        Ok(None) => return unauthorized("unknown ingest token"),
        Err(e) => {
            return Problem::internal("check the token", db::db_error_text(&e)).into_response();
        }
    };
    // GB/T 5.6.2: with the centres' CA, the token alone is not enough: the hub must also
    // present its centre's current client certificate.
    if state.centre_certificates {
        let presented = tls
            .as_ref()
            .and_then(|t| t.peer_certificates.first())
            .map(|der| crate::pki::cert_sha256(der));
        let Some(presented) = presented else {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "certificate_required",
                "ingest needs the centre's client certificate (hq.client_cert in the hub's config)",
            )
            .into_response();
        };
        match crate::centres::certificate_is_current(plain, &centre, &presented).await {
            Ok(true) => {}
            Ok(false) => {
                return Problem::new(
                    StatusCode::FORBIDDEN,
                    "certificate_not_current",
                    format!(
                        "this client certificate is not centre {centre}'s current one \
                         (issued to another centre, or replaced by a newer one)"
                    ),
                )
                .into_response();
            }
            Err(e) => {
                return Problem::internal("check the certificate", db::db_error_text(&e))
                    .into_response();
            }
        }
    }
    let batch: IngestBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return match e.classify() {
                serde_json::error::Category::Data => {
                    Problem::unprocessable("invalid_batch", format!("the batch does not fit: {e}"))
                }
                _ => Problem::bad_request("malformed_json", format!("the body is not JSON: {e}")),
            }
            .into_response();
        }
    };
    if batch.centre_id != centre {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "wrong_centre",
            format!(
                "this token belongs to centre {centre}, not {}",
                batch.centre_id
            ),
        )
        .into_response();
    }
    match ingest::store_batch(&mut client, &centre, &batch).await {
        Ok(ack) => {
            if ack.inserted > 0 {
                state.projector_wake.notify_one();
            }
            log_ack(&ack);
            Json(ack).into_response()
        }
        Err(IngestError::Invalid { code, message }) => {
            Problem::unprocessable(code, message).into_response()
        }
        Err(IngestError::Db(e)) => {
            Problem::internal("store the batch", db::db_error_text(&e)).into_response()
        }
    }
}

fn log_ack(ack: &IngestAck) {
    if let Some(from) = ack.conflict_from {
        tracing::warn!(
            "centre {} epoch {}: different events held from sequence {from} (a restored hub); \
             it moves to a new epoch",
            ack.centre_id,
            ack.epoch
        );
    }
    tracing::debug!(
        "centre {} epoch {}: {} stored, {} duplicates, high water {}",
        ack.centre_id,
        ack.epoch,
        ack.inserted,
        ack.duplicates,
        ack.high_water
    );
}

async fn health(State(state): State<HqState>) -> Response {
    match health_figures(&state).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ok": false, "db": "unavailable", "error": e})),
        )
            .into_response(),
    }
}

async fn health_figures(state: &HqState) -> Result<serde_json::Value, String> {
    let client = state
        .pool
        .get()
        .await
        .map_err(|e| db::pool_error_text(&e))?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM centres),
                    (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'events'::regclass),
                    (SELECT coalesce(max(version), 0) FROM schema_migrations)",
            &[],
        )
        .await
        .map_err(|e| db::db_error_text(&e))?;
    let centres: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    let mut events: i64 = row.try_get(1).map_err(|e| e.to_string())?;
    let schema: i32 = row.try_get(2).map_err(|e| e.to_string())?;
    // The planner's estimate is free; count exactly while the table is small.
    if events < 1_000_000 {
        events = client
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| db::db_error_text(&e))?;
    }
    let plain: &tokio_postgres::Client = &client;
    let lag = projector::lag(plain)
        .await
        .map_err(|e| db::db_error_text(&e))?;
    Ok(json!({
        "ok": true,
        "db": "ok",
        "schema_version": schema,
        "centres": centres,
        "events": events,
        "projector_lag": lag,
    }))
}
