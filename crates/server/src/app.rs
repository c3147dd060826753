//! Start-up: pool, migrations, the HTTP server, then the workers. Serving comes first: the
//! projection catch-up and the owed system steps run in the background (the worker's first pass
//! starts at once), so no order, however broken, can keep the server from answering.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;
use xyt_store::orders::OrderStore;

use crate::api::error::{json_error, path_error, query_error};
use crate::env_config::EnvConfig;
use crate::state::AppState;
use crate::{api, openapi, request_id, workers, xgj};

pub struct Running {
    pub addr: SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub catch_up: tokio::task::JoinHandle<()>,
    pub deliveries: tokio::task::JoinHandle<()>,
    pub config_listener: tokio::task::JoinHandle<()>,
    pub state: web::Data<AppState>,
}

impl Running {
    pub async fn stop(self) {
        self.catch_up.abort();
        self.deliveries.abort();
        self.config_listener.abort();
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}

pub async fn start(config: EnvConfig, listener: TcpListener) -> anyhow::Result<Running> {
    let pool = xyt_store::db::pool(&config.database_url, 16)?;
    xyt_store::db::migrate(&pool).await?;
    let orders = Arc::new(OrderStore::new(pool.clone()));
    let files: Arc<dyn xyt_integrations::files::FileStore> =
        Arc::new(xyt_integrations::files::LocalFileStore::new(config.file_dir.clone()));
    let ocr: Arc<dyn xyt_integrations::ocr::OcrEngine> =
        Arc::from(xyt_integrations::ocr::engine_from_name(&config.ocr_engine).map_err(anyhow::Error::msg)?);
    let config_cache = xyt_store::config_centre::cache::ConfigCache::new(pool.clone());
    let config_listener = config_cache.spawn_listener();
    let pipeline = Arc::new(crate::pipeline::Pipeline {
        pool: pool.clone(),
        config_cache: config_cache.clone(),
        orders: orders.clone(),
        files: files.clone(),
        ocr,
        policy: Default::default(),
        in_flight: Default::default(),
    });
    let public_limiter = crate::rate_limit::RateLimiter::new(config.public_rate_limit_per_minute);
    let wecom_app = xyt_integrations::notify::WecomAppConfig::from_settings(
        config.wecom_corp_id.clone(),
        config.wecom_corp_secret.clone().map(secrecy::SecretString::from),
        config.wecom_base_url.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let timeouts = xyt_integrations::notify::HttpTimeouts {
        total: config.send_timeout,
        connect: config.send_timeout.min(std::time::Duration::from_secs(3)),
    };
    let sender: Arc<dyn xyt_integrations::notify::Sender> = Arc::new(xyt_integrations::notify::Senders::new(
        xyt_integrations::notify::SendersConfig {
            timeouts,
            wecom_app,
            xgj: config.xgj.clone(),
        },
    )?);
    let allowed_targets = xyt_domain::target::AllowedTargets::new(config.wecom_base_url.as_deref());
    let delivery_worker = Arc::new(crate::delivery_worker::DeliveryWorker {
        targets: allowed_targets.clone(),
        pool: pool.clone(),
        orders: orders.clone(),
        sender,
        files: files.clone(),
        config: config.delivery.clone(),
    });
    let deliveries_task = crate::delivery_worker::spawn(delivery_worker.clone());
    let config_auth = config.auth.clone();
    let service = crate::orders_service::OrderService {
        pool: pool.clone(),
        orders: orders.clone(),
        pipeline: pipeline.clone(),
        delivery_worker: delivery_worker.clone(),
        settle_wait: config.settle_wait(),
    };
    let state = web::Data::new(AppState {
        service,
        pool,
        config_cache,
        orders,
        config: Arc::new(config),
        public_limiter,
        delivery_worker,
        pipeline,
        files,
        auth: config_auth,
        targets: allowed_targets,
    });
    let addr = listener.local_addr()?;
    let data = state.clone();
    let doc = openapi::document_json();
    let server = HttpServer::new(move || {
        // Swagger UI (vendored, works offline) and the document go first: the `/api` scope
        // would otherwise swallow `/api/openapi.json`.
        App::new()
            .app_data(data.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(
                web::JsonConfig::default()
                    .limit(crate::input_guard::JSON_LIMIT)
                    .error_handler(json_error),
            )
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/api/openapi.json", doc.clone()))
            .route(
                "/docs",
                web::get().to(|| async {
                    actix_web::HttpResponse::Found()
                        .insert_header(("Location", "/docs/"))
                        .finish()
                }),
            )
            .route("/healthz", web::get().to(|| async { "ok" }))
            .route("/metrics", web::get().to(crate::metrics::handler))
            .route("/f/{token}", web::get().to(crate::buyer_page::page))
            .into_utoipa_app()
            .service(api::public::scope())
            .service(api::admin_scope())
            .service(xgj::scope())
            .into_app()
            .default_service(web::to(crate::console::serve))
            // Innermost first: idempotency keeps answers to checked input; hostile text is refused
            // before a handler sees it, but only once the guard let the caller in (an anonymous
            // body is never read); the headers go on every answer, refusals included; the
            // request id wraps everything.
            .wrap(from_fn(crate::auth::idempotency::middleware))
            .wrap(from_fn(crate::input_guard::middleware))
            .wrap(from_fn(crate::auth::guard::guard))
            .wrap(from_fn(crate::auth::guard::security_headers))
            .wrap(from_fn(request_id::middleware))
            .wrap(from_fn(crate::metrics::middleware))
    })
    .workers(2)
    .listen(listener)?
    .disable_signals()
    .run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    // Bound and serving: now the catch-up and the sweep (first pass at once).
    let catch_up = workers::spawn_catch_up(
        state.orders.clone(),
        state.pipeline.clone(),
        state.config.catchup_interval,
    );
    Ok(Running {
        addr,
        handle,
        server,
        catch_up,
        deliveries: deliveries_task,
        config_listener,
        state,
    })
}
